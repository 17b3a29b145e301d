// envd's HTTP file endpoint: GET /files?path=&username= answers the file's
// bytes; POST /files writes one or several, from multipart/form-data (a
// part per file, its file name the path when the query has none) or one
// application/octet-stream body. Parent directories are made as envd does.
#pragma once

#include <string>

#include "serve/http.h"

namespace krunbox::e2b {

// The largest upload body. Uploads stream to the sandbox as they come, so
// this bounds a request's length, not the server's memory.
inline constexpr size_t kMaxUploadBytes = size_t{64} << 30;
// Files up to this size are answered in one body (with its length);
// larger ones are streamed.
inline constexpr size_t kWholeFileBytes = 16u << 20;

// `user`: from the Authorization header (the query's username wins).
serve::HttpResponse files_endpoint(const serve::HttpRequest& request, const std::string& id, const std::string& user);

// envd's error shape: {"code": STATUS, "message": "..."}.
serve::HttpResponse envd_error(int status, std::string message);

}  // namespace krunbox::e2b

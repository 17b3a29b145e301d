// envd's filesystem.Filesystem service over the library's file-tree calls
// (sandbox/files_client.h): Stat, ListDir, MakeDir, Move, Remove. Watching
// (WatchDir and the polled watchers) is watch_dir.h's.
#pragma once

#include <string>

#include "base/json.h"
#include "serve/http.h"

namespace krunbox::e2b {

serve::HttpResponse filesystem_call(const std::string& method, const Json& message, const std::string& id,
                                    const std::string& user, bool streaming);

}  // namespace krunbox::e2b

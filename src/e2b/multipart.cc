#include "e2b/multipart.h"

#include <algorithm>
#include <cctype>

#include "serve/request_parse.h"

namespace krunbox::e2b {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of parameter `param` in a header value ("form-data; name=\"file\"").
bool header_param(std::string_view value, std::string_view param, std::string& out) {
  size_t i = value.find(';');
  if (i == std::string_view::npos) return false;
  ++i;
  while (i < value.size()) {
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    size_t eq = value.find('=', i);
    if (eq == std::string_view::npos) return false;
    std::string key = lower(trim(value.substr(i, eq - i)));
    i = eq + 1;
    std::string parsed;
    if (i < value.size() && value[i] == '"') {
      ++i;
      while (i < value.size() && value[i] != '"') {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        parsed.push_back(value[i++]);
      }
      if (i >= value.size()) return false;  // unterminated quote
      ++i;
      size_t semi = value.find(';', i);
      i = semi == std::string_view::npos ? value.size() : semi + 1;
    } else {
      size_t semi = value.find(';', i);
      parsed = std::string(trim(value.substr(i, semi == std::string_view::npos ? std::string_view::npos : semi - i)));
      i = semi == std::string_view::npos ? value.size() : semi + 1;
    }
    if (key == param) {
      out = std::move(parsed);
      return true;
    }
  }
  return false;
}

std::string unescape_filename(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      std::string code = lower(s.substr(i + 1, 2));
      if (code == "22") { out.push_back('"'); i += 2; continue; }
      if (code == "0a") { out.push_back('\n'); i += 2; continue; }
      if (code == "0d") { out.push_back('\r'); i += 2; continue; }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

Result<std::string> multipart_boundary(std::string_view content_type) {
  size_t semi = content_type.find(';');
  if (lower(trim(content_type.substr(0, semi))) != "multipart/form-data")
    return Error(ErrorCode::kInvalidArgument, "the upload's content type is '" + std::string(content_type) +
                                                  "'; send multipart/form-data or application/octet-stream");
  std::string boundary;
  if (!header_param(content_type, "boundary", boundary) || boundary.empty() || boundary.size() > 200)
    return Error(ErrorCode::kInvalidArgument, "the multipart/form-data content type has no usable boundary");
  return boundary;
}

Result<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary) {
  std::string delim = "--" + std::string(boundary);
  std::vector<FormPart> parts;
  // The preamble, then the first delimiter line.
  size_t at = body.find(delim);
  if (at == std::string_view::npos || (at != 0 && (at < 2 || body.substr(at - 2, 2) != "\r\n")))
    return Error(ErrorCode::kInvalidArgument, "the multipart body has no opening boundary");
  at += delim.size();
  std::string next_delim = "\r\n" + delim;
  for (;;) {
    if (body.substr(at, 2) == "--") return parts;  // the close delimiter
    // Transport padding, then CRLF.
    while (at < body.size() && (body[at] == ' ' || body[at] == '\t')) ++at;
    if (body.substr(at, 2) != "\r\n") return Error(ErrorCode::kInvalidArgument, "a multipart boundary line is malformed");
    at += 2;
    size_t head_end = body.find("\r\n\r\n", at);
    size_t end = body.find(next_delim, at);
    if (end == std::string_view::npos)
      return Error(ErrorCode::kInvalidArgument, "the multipart body ends before its closing boundary");
    if (parts.size() >= 1000) return Error(ErrorCode::kLimitExceeded, "more than 1000 parts in one upload");
    FormPart part;
    std::string_view headers;
    if (body.substr(at, 2) == "\r\n") {
      // No headers at all.
      at += 2;
    } else {
      if (head_end == std::string_view::npos || head_end > end)
        return Error(ErrorCode::kInvalidArgument, "a multipart part's headers do not end before its data");
      headers = body.substr(at, head_end - at);
      at = head_end + 4;
    }
    while (!headers.empty()) {
      size_t nl = headers.find("\r\n");
      std::string_view line = headers.substr(0, nl);
      headers = nl == std::string_view::npos ? std::string_view() : headers.substr(nl + 2);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) return Error(ErrorCode::kInvalidArgument, "a multipart header has no ':'");
      std::string name = lower(trim(line.substr(0, colon)));
      std::string_view value = trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        header_param(value, "name", part.name);
        std::string filename;
        if (header_param(value, "filename", filename)) {
          part.filename = unescape_filename(filename);
          part.has_filename = true;
        }
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
    }
    if (at > end) return Error(ErrorCode::kInvalidArgument, "a multipart part is malformed");
    part.data = std::string(body.substr(at, end - at));
    parts.push_back(std::move(part));
    at = end + next_delim.size();
  }
}

Result<std::string> url_decode(std::string_view text) {
  // URLSearchParams writes a space as '+'; the rest is plain %-decoding.
  std::string spaced(text);
  std::replace(spaced.begin(), spaced.end(), '+', ' ');
  return serve::percent_decode(spaced, "the query");
}

Result<std::map<std::string, std::string>> parse_query_params(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    KRUNBOX_ASSIGN_OR_RETURN(std::string key, url_decode(pair.substr(0, eq)));
    std::string value;
    if (eq != std::string_view::npos) {
      KRUNBOX_ASSIGN_OR_RETURN(value, url_decode(pair.substr(eq + 1)));
    }
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

}  // namespace krunbox::e2b

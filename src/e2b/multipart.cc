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

Error malformed(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

// A part's header lines (CRLF between them): its name, file name and type.
Status parse_part_headers(std::string_view headers, FormPartHead& part) {
  while (!headers.empty()) {
    size_t nl = headers.find("\r\n");
    std::string_view line = headers.substr(0, nl);
    headers = nl == std::string_view::npos ? std::string_view() : headers.substr(nl + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return malformed("a multipart header has no ':'");
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
  return {};
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

MultipartReader::MultipartReader(BodySource source, std::string_view boundary)
    : source_(std::move(source)), delimiter_("\r\n--" + std::string(boundary)), window_("\r\n") {
  // The CRLF in front makes an opening delimiter at the body's very start
  // look like every later one.
}

Result<bool> MultipartReader::fill() {
  if (pos_ > 0) {
    window_.erase(0, pos_);
    pos_ = 0;
  }
  if (!chunk_) chunk_.reset(new char[kReadChunk]);
  KRUNBOX_ASSIGN_OR_RETURN(size_t n, source_(chunk_.get(), kReadChunk));
  window_.append(chunk_.get(), n);
  return n > 0;
}

Status MultipartReader::skip_epilogue() {
  window_.clear();
  pos_ = 0;
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(bool more, fill());
    window_.clear();
    if (!more) return {};
  }
}

Result<bool> MultipartReader::have(size_t n) {
  while (window_.size() - pos_ < n) {
    KRUNBOX_ASSIGN_OR_RETURN(bool more, fill());
    if (!more) return false;
  }
  return true;
}

Result<std::optional<FormPartHead>> MultipartReader::next_part() {
  if (state_ == State::kDone) return std::optional<FormPartHead>();
  if (state_ == State::kInPart) {
    char scratch[16384];
    for (;;) {
      KRUNBOX_ASSIGN_OR_RETURN(size_t n, read(scratch, sizeof scratch));
      if (n == 0) break;
    }
  }
  while (state_ == State::kPreamble) {
    std::string_view v = std::string_view(window_).substr(pos_);
    size_t at = v.find(delimiter_);
    if (at != std::string_view::npos) {
      pos_ += at + delimiter_.size();
      state_ = State::kAfterDelimiter;
      break;
    }
    // Keep what could be the start of a delimiter cut by the read.
    if (v.size() >= delimiter_.size()) pos_ += v.size() - (delimiter_.size() - 1);
    KRUNBOX_ASSIGN_OR_RETURN(bool more, fill());
    if (!more) return malformed("the multipart body has no opening boundary");
  }
  KRUNBOX_ASSIGN_OR_RETURN(bool two, have(2));
  if (!two) return malformed("the multipart body ends inside a boundary line");
  if (window_.compare(pos_, 2, "--") == 0) {
    state_ = State::kDone;
    KRUNBOX_TRY(skip_epilogue());
    return std::optional<FormPartHead>();
  }
  // Transport padding, then CRLF.
  for (size_t padding = 0;; ++padding) {
    KRUNBOX_ASSIGN_OR_RETURN(bool one, have(1));
    if (!one || padding > kMaxHeaderBytes) return malformed("a multipart boundary line is malformed");
    if (window_[pos_] != ' ' && window_[pos_] != '\t') break;
    ++pos_;
  }
  KRUNBOX_ASSIGN_OR_RETURN(two, have(2));
  if (!two || window_.compare(pos_, 2, "\r\n") != 0) return malformed("a multipart boundary line is malformed");
  pos_ += 2;
  if (++parts_ > kMaxParts)
    return Error(ErrorCode::kLimitExceeded, "more than " + std::to_string(kMaxParts) + " parts in one upload");
  FormPartHead part;
  std::string headers;
  KRUNBOX_ASSIGN_OR_RETURN(two, have(2));
  if (!two) return malformed("the multipart body ends inside a part's headers");
  if (window_.compare(pos_, 2, "\r\n") == 0) {
    pos_ += 2;  // no headers at all
  } else {
    for (size_t searched = 0;;) {
      size_t end = window_.find("\r\n\r\n", pos_ + searched);
      if (end != std::string::npos) {
        headers = window_.substr(pos_, end - pos_);
        pos_ = end + 4;
        break;
      }
      searched = window_.size() - pos_ >= 3 ? window_.size() - pos_ - 3 : 0;
      if (searched > kMaxHeaderBytes)
        return Error(ErrorCode::kLimitExceeded,
                     "a multipart part's headers are over " + std::to_string(kMaxHeaderBytes) + " bytes");
      KRUNBOX_ASSIGN_OR_RETURN(bool more, fill());
      if (!more) return malformed("the multipart body ends inside a part's headers");
    }
  }
  KRUNBOX_TRY(parse_part_headers(headers, part));
  state_ = State::kInPart;
  return std::optional<FormPartHead>(std::move(part));
}

Result<size_t> MultipartReader::read(char* buf, size_t size) {
  if (state_ != State::kInPart || size == 0) return size_t{0};
  for (;;) {
    std::string_view v = std::string_view(window_).substr(pos_);
    size_t at = v.find(delimiter_);
    size_t ready = at;
    if (at == 0) {
      pos_ += delimiter_.size();
      state_ = State::kAfterDelimiter;
      return size_t{0};
    }
    // Without a delimiter in sight, all but a delimiter's length is data.
    if (at == std::string_view::npos) ready = v.size() >= delimiter_.size() ? v.size() - (delimiter_.size() - 1) : 0;
    if (ready > 0) {
      size_t n = std::min(ready, size);
      std::copy_n(v.data(), n, buf);
      pos_ += n;
      return n;
    }
    KRUNBOX_ASSIGN_OR_RETURN(bool more, fill());
    if (!more) return malformed("the multipart body ends before its closing boundary");
  }
}

Result<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary) {
  MultipartReader reader(serve::source_of(body), boundary);
  std::vector<FormPart> parts;
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(auto head, reader.next_part());
    if (!head) return parts;
    FormPart part;
    static_cast<FormPartHead&>(part) = std::move(*head);
    char buf[4096];
    for (;;) {
      KRUNBOX_ASSIGN_OR_RETURN(size_t n, reader.read(buf, sizeof buf));
      if (n == 0) break;
      part.data.append(buf, n);
    }
    parts.push_back(std::move(part));
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

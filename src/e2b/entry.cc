#include "e2b/entry.h"

#include <ctime>
#include <vector>

#include "image/registry_auth.h"

namespace krunbox::e2b {

uint32_t go_file_mode(const FileStat& st) {
  uint32_t m = st.mode & 0777;
  if (st.mode & 04000) m |= 1u << 23;  // ModeSetuid
  if (st.mode & 02000) m |= 1u << 22;  // ModeSetgid
  if (st.mode & 01000) m |= 1u << 20;  // ModeSticky
  if (st.type == FileStat::Type::kDirectory) m |= 1u << 31;
  if (st.type == FileStat::Type::kSymlink) m |= 1u << 27;
  return m;
}

std::string permissions_string(const FileStat& st) {
  std::string s;
  if (st.type == FileStat::Type::kDirectory) s.push_back('d');
  if (st.type == FileStat::Type::kSymlink) s.push_back('L');
  if (st.mode & 04000) s.push_back('u');
  if (st.mode & 02000) s.push_back('g');
  if (st.mode & 01000) s.push_back('t');
  if (s.empty()) s.push_back('-');
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s.push_back((st.mode & (1u << (8 - i))) ? rwx[i] : '-');
  return s;
}

std::string rfc3339(int64_t unix_ns) {
  int64_t secs = unix_ns / 1000000000;
  int64_t nanos = unix_ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (nanos) {
    char frac[16];
    snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(nanos));
    out += frac;
  }
  return out + "Z";
}

std::string_view file_type_name(FileStat::Type type) {
  switch (type) {
    case FileStat::Type::kFile: return "FILE_TYPE_FILE";
    case FileStat::Type::kDirectory: return "FILE_TYPE_DIRECTORY";
    case FileStat::Type::kSymlink: return "FILE_TYPE_SYMLINK";
    case FileStat::Type::kOther: return "FILE_TYPE_UNSPECIFIED";
  }
  return "FILE_TYPE_UNSPECIFIED";
}

Json entry_info(const std::string& name, const std::string& path, const FileStat& st) {
  auto id_name = [](uint32_t id) { return id == 0 ? std::string("root") : std::to_string(id); };
  Json j = {{"name", name},
            {"type", std::string(file_type_name(st.type))},
            {"path", path},
            // int64 is a string in proto3's JSON mapping.
            {"size", std::to_string(st.size)},
            {"mode", go_file_mode(st)},
            {"permissions", permissions_string(st)},
            {"owner", id_name(st.uid)},
            {"group", id_name(st.gid)},
            {"modifiedTime", rfc3339(st.mtime_ns)}};
  if (st.type == FileStat::Type::kSymlink) j["symlinkTarget"] = st.symlink_target;
  return j;
}

std::string home_of(std::string_view user) {
  if (user.empty() || user == "root") return "/root";
  return "/home/" + std::string(user);
}

Result<std::string> resolve_path(std::string_view path, std::string_view user) {
  if (path.empty()) return Error(ErrorCode::kInvalidArgument, "the path is empty");
  if (path.find('\0') != std::string_view::npos) return Error(ErrorCode::kInvalidArgument, "the path has a NUL byte");
  std::string full = path[0] == '/' ? std::string(path) : home_of(user) + "/" + std::string(path);
  std::vector<std::string> parts;
  size_t at = 0;
  while (at <= full.size()) {
    size_t slash = full.find('/', at);
    std::string seg = full.substr(at, slash == std::string::npos ? std::string::npos : slash - at);
    if (seg == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!seg.empty() && seg != ".") {
      parts.push_back(std::move(seg));
    }
    if (slash == std::string::npos) break;
    at = slash + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? std::string("/") : out;
}

std::string user_of_authorization(std::string_view authorization) {
  constexpr std::string_view kBasic = "Basic ";
  if (authorization.size() <= kBasic.size()) return "";
  std::string scheme(authorization.substr(0, kBasic.size()));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "basic ") return "";
  auto decoded = image::base64_decode(authorization.substr(kBasic.size()));
  if (!decoded) return "";
  std::string user = decoded->substr(0, decoded->find(':'));
  for (unsigned char c : user)
    if (c <= 0x20 || c >= 0x7f) return "";
  return user;
}

}  // namespace krunbox::e2b

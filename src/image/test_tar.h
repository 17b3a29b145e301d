// Builds tar archives byte by byte for tests, including malformed and
// hostile ones that no real tar program would write.
#pragma once

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace krunbox::image::testing {

struct TarSpec {
  std::string name{};
  char type = '0';
  std::string data{};
  std::string link{};
  unsigned mode = 0644;
  unsigned uid = 0, gid = 0;
  long long mtime = 1700000000;
  unsigned dev_major = 0, dev_minor = 0;
  std::vector<std::pair<std::string, std::string>> pax{};  // records for a preceding 'x' header
  bool gnu_long_name = false;  // put the name in a preceding 'L' entry
  long long declared_size = -1;  // size field; -1: data.size()
};

class TarBuilder {
 public:
  TarBuilder& add(const TarSpec& s) {
    if (!s.pax.empty()) {
      std::string body;
      for (const auto& [k, v] : s.pax) body += record(k, v);
      TarSpec h;
      h.name = "PaxHeaders/x";
      h.type = 'x';
      h.data = body;
      raw(h);
    }
    if (s.gnu_long_name) {
      TarSpec l;
      l.name = "././@LongLink";
      l.type = 'L';
      l.data = s.name + std::string(1, '\0');
      raw(l);
      TarSpec copy = s;
      copy.name = s.name.substr(0, 99);
      copy.gnu_long_name = false;
      copy.pax.clear();
      raw(copy);
      return *this;
    }
    TarSpec copy = s;
    copy.pax.clear();
    raw(copy);
    return *this;
  }
  TarBuilder& file(const std::string& name, const std::string& data, unsigned mode = 0644) {
    return add({.name = name, .type = '0', .data = data, .mode = mode});
  }
  TarBuilder& dir(const std::string& name, unsigned mode = 0755) { return add({.name = name, .type = '5', .mode = mode}); }
  TarBuilder& symlink(const std::string& name, const std::string& target) {
    return add({.name = name, .type = '2', .link = target, .mode = 0777});
  }
  TarBuilder& hardlink(const std::string& name, const std::string& target) {
    return add({.name = name, .type = '1', .link = target});
  }
  // The two zero blocks that end an archive.
  TarBuilder& end() {
    out_.append(1024, '\0');
    return *this;
  }
  TarBuilder& bytes(const std::string& b) {
    out_ += b;
    return *this;
  }
  const std::string& str() const { return out_; }

  static std::string gzip(const std::string& in) {
    z_stream zs{};
    deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&zs, in.size()) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
  }

 private:
  static std::string record(const std::string& k, const std::string& v) {
    size_t base = k.size() + v.size() + 3;
    size_t len = base + std::to_string(base).size();
    if (std::to_string(len).size() != std::to_string(base).size()) ++len;
    return std::to_string(len) + " " + k + "=" + v + "\n";
  }
  // Octal digits and a NUL; GNU base-256 when the value does not fit.
  static void octal(char* f, size_t len, unsigned long long v) {
    if (3 * (len - 1) < 64 && v >= (1ULL << (3 * (len - 1)))) {
      for (size_t i = len; i-- > 1;) {
        f[i] = static_cast<char>(v & 0xff);
        v >>= 8;
      }
      f[0] = static_cast<char>(0x80);
      return;
    }
    f[len - 1] = 0;
    for (size_t i = len - 1; i-- > 0;) {
      f[i] = static_cast<char>('0' + (v & 7));
      v >>= 3;
    }
  }
  void raw(const TarSpec& s) {
    char h[512];
    std::memset(h, 0, sizeof h);
    std::memcpy(h, s.name.data(), std::min<size_t>(s.name.size(), 100));
    octal(h + 100, 8, s.mode);
    octal(h + 108, 8, s.uid);
    octal(h + 116, 8, s.gid);
    octal(h + 124, 12, s.declared_size >= 0 ? static_cast<unsigned long long>(s.declared_size) : s.data.size());
    octal(h + 136, 12, static_cast<unsigned long long>(s.mtime));
    h[156] = s.type;
    std::memcpy(h + 157, s.link.data(), std::min<size_t>(s.link.size(), 100));
    std::memcpy(h + 257, "ustar\0" "00", 8);
    octal(h + 329, 8, s.dev_major);
    octal(h + 337, 8, s.dev_minor);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    octal(h + 148, 7, sum);
    h[155] = ' ';
    out_.append(h, sizeof h);
    out_ += s.data;
    out_.append((512 - s.data.size() % 512) % 512, '\0');
  }
  std::string out_;
};

}  // namespace krunbox::image::testing

// Image references: [registry/]path[:tag][@sha256:digest], normalized the
// way Docker does ("busybox" is docker.io/library/busybox:latest).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "image/digest.h"
#include "krunbox/error.h"

namespace krunbox::image {

struct Reference {
  std::string name;  // normalized: "docker.io/library/busybox", "127.0.0.1:5000/x/y"
  std::string tag;   // empty when only a digest was given
  std::optional<Digest> digest;

  std::string str() const;       // name[:tag][@digest]
  std::string familiar() const;  // "busybox:latest", as Docker prints it
  std::string domain() const;    // "docker.io", "127.0.0.1:5000"
  std::string path() const;      // "library/busybox", "x/y"
};

// Parses and normalizes; a missing tag (and no digest) becomes "latest".
Result<Reference> parse_reference(std::string_view text, size_t max_len = 512);
// "docker.io/library/busybox" -> "busybox"; other names unchanged.
std::string familiar_name(const std::string& name);
bool valid_tag(std::string_view tag);

}  // namespace krunbox::image

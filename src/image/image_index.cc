#include "image/image_index.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <ctime>

#include "base/fs.h"
#include "base/json.h"
#include "base/unique_fd.h"
#include "image/reference.h"

namespace krunbox::image {
namespace {

Result<std::vector<ImageRecord>> parse_index(const std::string& path) {
  std::vector<ImageRecord> out;
  if (!path_exists(path)) return out;
  KRUNBOX_ASSIGN_OR_RETURN(Json j, read_json_file(path, 64 << 20));
  try {
    for (const auto& r : j.at("images")) {
      ImageRecord rec;
      rec.name = r.at("name").get<std::string>();
      rec.tag = r.at("tag").get<std::string>();
      KRUNBOX_ASSIGN_OR_RETURN(rec.digest, Digest::parse(r.at("digest").get<std::string>()));
      rec.media_type = r.value("media_type", "");
      rec.size = r.value("size", uint64_t{0});
      rec.created = r.value("created", "");
      rec.loaded_at = r.value("loaded_at", "");
      out.push_back(std::move(rec));
    }
  } catch (const std::exception& e) {
    return Error(ErrorCode::kCorrupt, "image index " + path + " is malformed (" + e.what() + "); restore or delete it and load the images again");
  }
  return out;
}

}  // namespace

std::string now_rfc3339() {
  time_t t = ::time(nullptr);
  struct tm tm {};
  ::gmtime_r(&t, &tm);
  char buf[32];
  ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

ImageIndex::ImageIndex(std::string root) : path_(root + "/images.json"), lock_path_(root + "/images.json.lock") {}

Result<std::vector<ImageRecord>> ImageIndex::list() const { return parse_index(path_); }

Status ImageIndex::update(const std::function<Status(std::vector<ImageRecord>&)>& change) const {
  KRUNBOX_TRY(make_dirs(dirname_of(path_), 0755));
  UniqueFd lock(::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) return Error::from_errno("open " + lock_path_);
  while (::flock(lock.get(), LOCK_EX) != 0)
    if (errno != EINTR) return Error::from_errno("lock " + lock_path_);
  KRUNBOX_ASSIGN_OR_RETURN(auto records, parse_index(path_));
  KRUNBOX_TRY(change(records));
  Json arr = Json::array();
  for (const auto& r : records)
    arr.push_back({{"name", r.name}, {"tag", r.tag}, {"digest", r.digest.str()}, {"media_type", r.media_type},
                   {"size", r.size}, {"created", r.created}, {"loaded_at", r.loaded_at}});
  Json doc = {{"version", 1}, {"images", arr}};
  return write_file_atomic(path_, doc.dump(2) + "\n", 0644);
}

Status ImageIndex::put(const ImageRecord& record) const {
  return update([&](std::vector<ImageRecord>& records) -> Status {
    std::erase_if(records, [&](const ImageRecord& r) { return r.name == record.name && r.tag == record.tag; });
    records.push_back(record);
    return {};
  });
}

Status ImageIndex::remove(const std::string& name, const std::string& tag) const {
  return update([&](std::vector<ImageRecord>& records) -> Status {
    auto n = std::erase_if(records, [&](const ImageRecord& r) { return r.name == name && r.tag == tag; });
    if (n == 0) return Error(ErrorCode::kNotFound, "no image " + name + ":" + tag);
    return {};
  });
}

Json to_json(const ImageRecord& r) {
  return {{"name", familiar_name(r.name)}, {"repository", r.name},     {"tag", r.tag},
          {"digest", r.digest.str()},      {"media_type", r.media_type}, {"size", r.size},
          {"created", r.created},          {"loaded_at", r.loaded_at}};
}

}  // namespace krunbox::image

#include "backend/native/run_state.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cstdlib>

#include "base/fs.h"
#include "base/json.h"
#include "base/unique_fd.h"

namespace krunbox::native {

std::string sandboxes_dir(const std::string& run_root) { return join_path(run_root, "sandboxes"); }

Status write_run_state(const std::string& run_dir, const RunState& s) {
  Json j = {{"id", s.id},
            {"owner_pid", s.owner.pid},
            {"owner_start_time", s.owner.start_time},
            {"cgroup_root", s.cgroup_root}};
  if (s.pid1) {
    j["pid1"] = s.pid1->pid;
    j["pid1_start_time"] = s.pid1->start_time;
  }
  // Renamed into place so readers never see half a file, but not fsync'ed:
  // the file only matters while this boot's processes run, and two fsyncs
  // per start cost more than everything else the parent does.
  std::string path = join_path(run_dir, kStateFile);
  std::string tmp = path + ".tmp";
  std::string text = j.dump() + "\n";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Error::from_errno("creating " + tmp);
  KRUNBOX_TRY_CTX(write_all(fd.get(), text.data(), text.size()), "writing " + tmp);
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::from_errno("renaming " + tmp + " to " + path);
  return {};
}

Result<RunState> read_run_state(const std::string& run_dir) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, read_json_file(join_path(run_dir, kStateFile), 64 * 1024));
  RunState s;
  try {
    s.id = j.at("id").get<std::string>();
    s.owner = {j.at("owner_pid").get<pid_t>(), j.at("owner_start_time").get<uint64_t>()};
    s.cgroup_root = j.value("cgroup_root", std::string());
    if (j.contains("pid1")) s.pid1 = ProcessRef{j.at("pid1").get<pid_t>(), j.at("pid1_start_time").get<uint64_t>()};
  } catch (const Json::exception& e) {
    return Error(ErrorCode::kCorrupt, join_path(run_dir, kStateFile) + ": " + e.what());
  }
  return s;
}

}  // namespace krunbox::native

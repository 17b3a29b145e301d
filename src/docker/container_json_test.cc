#include "docker/container_json.h"

#include <gtest/gtest.h>

#include "docker/container_create.h"

namespace krunbox::docker {
namespace {

SandboxView exited_view() {
  SandboxView v;
  v.id = std::string(64, 'a');
  v.config.spec.name = "web";
  v.config.spec.argv = {"sh", "-c", "exit 3"};
  v.config.image = "busybox";
  v.config.backend = "native";
  v.config.created_at = 1000;
  v.config.labels = {{"team", "x"}, {kAutoRemoveLabel, "1"}};
  v.config.spec.ports = {PortMapping{"127.0.0.1", 8080, 80, PortProtocol::kTcp}};
  v.status.state = SandboxState::kStopped;
  v.status.exit_status = ExitStatus::exited(3);
  v.status.started_at = 1010;
  v.status.finished_at = 1020;
  return v;
}

TEST(ContainerJson, InspectHasWhatClientsRead) {
  Json j = container_inspect(exited_view(), "sha256:ff", "/log", 1100);
  EXPECT_EQ(j["Id"], std::string(64, 'a'));
  EXPECT_EQ(j["Name"], "/web");
  EXPECT_EQ(j["State"]["Status"], "exited");
  EXPECT_EQ(j["State"]["Running"], false);
  EXPECT_EQ(j["State"]["ExitCode"], 3);
  EXPECT_EQ(j["State"]["FinishedAt"], "1970-01-01T00:17:00.000000000Z");
  EXPECT_EQ(j["Path"], "sh");
  EXPECT_EQ(j["Args"], Json({"-c", "exit 3"}));
  EXPECT_EQ(j["HostConfig"]["AutoRemove"], true);
  EXPECT_EQ(j["HostConfig"]["LogConfig"]["Type"], "json-file");
  EXPECT_EQ(j["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"], "8080");
  EXPECT_EQ(j["Config"]["Labels"], Json({{"team", "x"}}));  // krunbox's own are hidden
  EXPECT_EQ(j["Image"], "sha256:ff");
}

TEST(ContainerJson, SummaryAndStatusText) {
  SandboxView v = exited_view();
  Json s = container_summary(v, "", 1020 + 120);
  EXPECT_EQ(s["Names"], Json({"/web"}));
  EXPECT_EQ(s["State"], "exited");
  EXPECT_EQ(s["Status"], "Exited (3) 2 minutes ago");
  EXPECT_EQ(s["Command"], "sh -c exit 3");
  v.status.state = SandboxState::kRunning;
  v.status.exit_status.reset();
  EXPECT_EQ(docker_status_text(v, 1010 + 5), "Up 5 seconds");
  v.status.state = SandboxState::kCrashed;
  EXPECT_EQ(docker_exit_code(v), 125);
  v.config.spec.name.clear();
  EXPECT_EQ(docker_name(v), "/" + std::string(12, 'a'));
}

TEST(ContainerJson, HumanDuration) {
  EXPECT_EQ(human_duration(0), "Less than a second");
  EXPECT_EQ(human_duration(1), "1 second");
  EXPECT_EQ(human_duration(90), "About a minute");
  EXPECT_EQ(human_duration(3 * 3600), "3 hours");
  EXPECT_EQ(rfc3339(0), "0001-01-01T00:00:00Z");
}

}  // namespace
}  // namespace krunbox::docker

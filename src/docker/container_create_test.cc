#include "docker/container_create.h"

#include <gtest/gtest.h>

namespace krunbox::docker {
namespace {

// What docker run sends for `docker run --rm -e A=1 -p 8080:80 -v /tmp:/data:ro busybox sh -c 'echo hi'`,
// zero-valued fields included.
constexpr const char* kCliBody = R"({
  "Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,
  "ExposedPorts":{"80/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["A=1"],
  "Cmd":["sh","-c","echo hi"],"Image":"busybox","Volumes":null,"WorkingDir":"","Entrypoint":null,
  "OnBuild":null,"Labels":{"team":"x"},
  "HostConfig":{"Binds":["/tmp:/data:ro"],"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},
    "NetworkMode":"default","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},
    "RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,
    "ConsoleSize":[50,120],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],
    "ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"",
    "Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"",
    "UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":268435456,"NanoCpus":1500000000,
    "CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"CpuPeriod":0,"CpuQuota":0,"Devices":[],
    "MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":64,
    "Ulimits":[],"MaskedPaths":null,"ReadonlyPaths":null},
  "NetworkingConfig":{"EndpointsConfig":{}}})";

TEST(MapCreate, TheCliBodyMaps) {
  auto c = map_create(kCliBody, "/web");
  ASSERT_TRUE(c.ok()) << c.error().what();
  const auto& p = c->request.provision;
  EXPECT_EQ(p.image, "busybox");
  EXPECT_EQ(p.command, (std::vector<std::string>{"sh", "-c", "echo hi"}));
  EXPECT_FALSE(p.entrypoint.has_value());
  EXPECT_EQ(p.env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(p.pull, image::PullPolicy::kNever);
  EXPECT_EQ(p.base.name, "web");
  EXPECT_EQ(p.base.memory_mib, 256u);
  EXPECT_EQ(p.base.vcpus, 2u);
  EXPECT_EQ(p.base.pids_limit, 64u);
  ASSERT_EQ(p.base.ports.size(), 1u);
  EXPECT_EQ(p.base.ports[0].host_port, 8080);
  EXPECT_EQ(p.base.ports[0].guest_port, 80);
  EXPECT_EQ(p.base.ports[0].host_ip, "127.0.0.1");
  ASSERT_EQ(p.base.volumes.size(), 1u);
  EXPECT_TRUE(p.base.volumes[0].read_only);
  EXPECT_TRUE(c->auto_remove);
  EXPECT_EQ(c->request.labels.at(kAutoRemoveLabel), "1");
  EXPECT_EQ(c->request.labels.at("team"), "x");
  EXPECT_EQ(c->request.backend, "auto");
}

TEST(MapCreate, EntrypointLeadsTheCommand) {
  auto c = map_create(R"({"Image":"busybox","Entrypoint":["sh","-c"],"Cmd":["echo hi"]})", "");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->request.provision.entrypoint, "sh");
  EXPECT_EQ(c->request.provision.command, (std::vector<std::string>{"-c", "echo hi"}));
  auto cleared = map_create(R"({"Image":"busybox","Entrypoint":[""],"Cmd":["ls"]})", "");
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->request.provision.entrypoint, "");
}

TEST(MapCreate, BackendLabelChoosesTheBackend) {
  auto c = map_create(R"({"Image":"busybox","Labels":{"io.krunbox.backend":"qemu"}})", "");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->request.backend, "qemu");
}

TEST(MapCreate, SetUnsupportedFieldsAreNamed) {
  auto c = map_create(R"({"Image":"busybox","HostConfig":{"Privileged":true,"CapAdd":["NET_ADMIN"]},"Healthcheck":{"Test":["CMD","true"]}})", "");
  ASSERT_FALSE(c.ok());
  std::string m = c.error().what();
  EXPECT_NE(m.find("HostConfig.Privileged"), std::string::npos) << m;
  EXPECT_NE(m.find("HostConfig.CapAdd"), std::string::npos) << m;
  EXPECT_NE(m.find("Healthcheck"), std::string::npos) << m;
  EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
}

TEST(MapCreate, RefusesWhatItCannotDo) {
  for (const char* body : {
           R"({})", R"({"Image":""})", R"([1])", "not json", R"({"Image":"busybox","OpenStdin":true})",
           R"({"Image":"busybox","Cmd":[1]})", R"({"Image":"busybox","HostConfig":{"NetworkMode":"mynet"}})",
           R"({"Image":"busybox","HostConfig":{"PortBindings":{"x/tcp":[]}}})",
           R"({"Image":"busybox","HostConfig":{"PortBindings":{"80/sctp":[]}}})",
           R"({"Image":"busybox","HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"99999"}]}}})",
           R"({"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"sometimes"}}})",
           R"({"Image":"busybox","HostConfig":{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}})",
           R"({"Image":"busybox","HostConfig":{"Memory":-1}})", R"({"Image":"busybox","HostConfig":{"Binds":["x"]}})",
           R"({"Image":"busybox","HostConfig":{"LogConfig":{"Type":"syslog"}}})",
           R"({"Image":"busybox","Labels":{"io.krunbox.docker.auto-remove":"1"}})",
           R"({"Image":"busybox","StopSignal":"SIGUSR1"})",
           R"({"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"mynet":{}}}})",
       }) {
    EXPECT_FALSE(map_create(body, "").ok()) << body;
  }
}

TEST(MapCreate, RestartPolicies) {
  auto c = map_create(R"({"Image":"b","HostConfig":{"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3}}})", "");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->request.restart.mode, RestartPolicy::Mode::kOnFailure);
  EXPECT_EQ(c->request.restart.max_retries, 3u);
}

TEST(MapCreate, DeepNestingIsRefusedNotRecursedInto) {
  std::string deep = R"({"Image":"busybox","Healthcheck":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto c = map_create(deep, "");
  EXPECT_FALSE(c.ok());
}

TEST(IsZero, Values) {
  EXPECT_TRUE(is_zero(Json::parse(R"({"a":[],"b":{"c":0,"d":""},"e":null,"f":false})")));
  EXPECT_FALSE(is_zero(Json::parse(R"({"a":[0,1]})")));
  EXPECT_FALSE(is_zero(Json("x")));
}

}  // namespace
}  // namespace krunbox::docker

// krunbox pull against real docker-registry servers on loopback. The suite
// builds small OCI layouts, pushes them with skopeo, and runs the krunbox
// binary as a user would, each test with a store of its own.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "../cli/cli_env.h"
#include "base/fs.h"
#include "base/paths.h"
#include "base/subprocess.h"
#include "base/temp_dir.h"
#include "base/test_util.h"

namespace krunbox {
namespace {

namespace fs = std::filesystem;

std::string source_dir() {
  const char* s = std::getenv("KRUNBOX_SOURCE_DIR");
  return s ? s : ".";
}
std::string fixtures_py() { return source_dir() + "/tests/pull/fixtures.py"; }

int free_port() { return testing::free_loopback_port(); }
bool port_open(int port) { return static_cast<bool>(testing::connect_to_loopback(static_cast<uint16_t>(port))); }

void run_ok(const std::vector<std::string>& argv, std::chrono::seconds timeout = std::chrono::seconds(120)) {
  RunOptions o;
  o.timeout = timeout;
  auto r = run_capture(argv, o);
  ASSERT_TRUE(r.ok()) << argv[0] << ": " << r.error().what();
  ASSERT_EQ(r->status.code, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << r->err;
}

struct Env {
  std::unique_ptr<TempDir> dir;
  std::string work;
  int reg = 0, token_reg = 0, token_srv = 0, proxy = 0, proxy_norange = 0, redirect = 0, tamper_reg = 0;
  std::vector<Subprocess> servers;
  std::string busybox;
  std::string skip;
};
Env* env = nullptr;

Status start(const std::vector<std::string>& argv, int port, const std::string& log) {
  SpawnOptions o;
  o.stdout_mode = Stdio::kFile;
  o.stderr_mode = Stdio::kFile;
  o.stdout_file = log;
  o.stderr_file = log;
  o.env = std::vector<std::string>{"PATH=" + std::string(std::getenv("PATH")), "CUT_LOG=" + env->work + "/cut.log"};
  KRUNBOX_ASSIGN_OR_RETURN(Subprocess p, Subprocess::spawn(argv, o));
  env->servers.push_back(std::move(p));
  for (int i = 0; i < 200; ++i) {
    if (port_open(port)) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Error(ErrorCode::kTimeout, argv[0] + " did not listen on " + std::to_string(port) + "; see " + log);
}

std::string registry_config(const std::string& name, int port, const std::string& auth) {
  std::string path = env->work + "/" + name + ".yml";
  std::ofstream(path) << "version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: " << env->work << "/" << name
                      << "-data}}\nhttp: {addr: 127.0.0.1:" << port << "}\n"
                      << auth;
  return path;
}

class PullSuite : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    env = new Env;
    for (const char* tool : {"docker-registry", "skopeo", "python3", "openssl", "htpasswd", "zstd"})
      if (!find_program(tool)) env->skip += std::string(tool) + " ";
    if (!env->skip.empty()) {
      env->skip = "missing " + env->skip;
      return;
    }
    env->dir = std::make_unique<TempDir>(*TempDir::create("krunbox-pull-test"));
    env->work = env->dir->path();
    const std::string& w = env->work;
    run_ok({"python3", fixtures_py(), "layouts", w + "/layouts"});
    env->reg = free_port();
    ASSERT_TRUE(start({"docker-registry", "serve", registry_config("plain", env->reg, "")}, env->reg, w + "/plain.log").ok());
    env->tamper_reg = free_port();
    ASSERT_TRUE(start({"docker-registry", "serve", registry_config("tamper", env->tamper_reg, "")}, env->tamper_reg, w + "/tamper.log").ok());
    auto push = [&](int port, const std::string& layout, const std::string& dest, std::vector<std::string> extra = {}) {
      std::vector<std::string> argv = {"skopeo", "copy", "-q", "--dest-tls-verify=false"};
      argv.insert(argv.end(), extra.begin(), extra.end());
      argv.push_back("oci:" + w + "/layouts/" + layout + ":v1");
      argv.push_back("docker://127.0.0.1:" + std::to_string(port) + "/" + dest);
      run_ok(argv);
    };
    push(env->reg, "small", "small:v1");
    push(env->reg, "small", "small2:v1", {"--format", "v2s2"});
    push(env->reg, "multi", "multi:v1", {"--all"});
    push(env->reg, "zstd", "zstd:v1");
    push(env->reg, "small", "big:v1");
    run_ok({"python3", fixtures_py(), "bigmanifest", std::to_string(env->reg), "big", "v1", "huge"});
    push(env->tamper_reg, "tamper", "tamper:v1");
    // The bundled busybox image, for `run --pull`; absent before setup.sh ran.
    env->busybox = data_root() + "/bundled/busybox-oci";
    if (is_directory(env->busybox))
      run_ok({"skopeo", "copy", "-q", "--dest-tls-verify=false", "oci:" + env->busybox + ":latest",
              "docker://127.0.0.1:" + std::to_string(env->reg) + "/busybox:1"});
    else
      env->busybox.clear();

    // Token auth: the registry trusts tokens signed by our key; the token
    // service hands them out for users in the htpasswd file.
    run_ok({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=krunbox-test-token", "-days", "2", "-keyout",
            w + "/token.key", "-out", w + "/token.crt"});
    run_ok({"htpasswd", "-Bbc", w + "/htpasswd", "alice", "s3cret"});
    env->token_srv = free_port();
    ASSERT_TRUE(start({"python3", fixtures_py(), "token", std::to_string(env->token_srv), w + "/token.key", w + "/token.crt",
                       w + "/htpasswd", "krunbox-test-issuer", "krunbox-test"},
                      env->token_srv, w + "/token.log")
                    .ok());
    env->token_reg = free_port();
    std::string auth = "auth:\n  token:\n    realm: http://127.0.0.1:" + std::to_string(env->token_srv) +
                       "/token\n    service: krunbox-test\n    issuer: krunbox-test-issuer\n    rootcertbundle: " + w + "/token.crt\n";
    ASSERT_TRUE(start({"docker-registry", "serve", registry_config("token", env->token_reg, auth)}, env->token_reg, w + "/token-reg.log").ok());
    push(env->token_reg, "small", "private/small:v1", {"--dest-creds", "alice:s3cret"});

    env->proxy = free_port();
    ASSERT_TRUE(start({"python3", fixtures_py(), "cutproxy", std::to_string(env->proxy), std::to_string(env->reg)}, env->proxy, w + "/proxy.log").ok());
    env->proxy_norange = free_port();
    ASSERT_TRUE(start({"python3", fixtures_py(), "cutproxy", std::to_string(env->proxy_norange), std::to_string(env->reg), "norange"},
                      env->proxy_norange, w + "/proxy-norange.log")
                    .ok());
    env->redirect = free_port();
    ASSERT_TRUE(start({"python3", fixtures_py(), "redirect", std::to_string(env->redirect)}, env->redirect, w + "/redirect.log").ok());
  }
  static void TearDownTestSuite() {
    if (!env) return;
    for (auto& s : env->servers) {
      (void)s.kill(SIGKILL);
      (void)s.wait();
    }
    delete env;
    env = nullptr;
  }

 protected:
  void SetUp() override {
    if (!env->skip.empty()) GTEST_SKIP() << env->skip;
    store_ = std::make_unique<TempDir>(*TempDir::create("krunbox-pull-store"));
    std::ofstream(store_->path() + "/docker-config.json") << "{}";
  }

  std::string reg(int port) { return "127.0.0.1:" + std::to_string(port); }

  RunOutput krunbox(std::vector<std::string> args, const std::string& docker_config_dir = "") {
    std::vector<std::string> argv = {testing::krunbox_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> e = {"PATH=" + std::string(std::getenv("PATH")), "HOME=" + store_->path(),
                                  "KRUNBOX_ROOT=" + store_->path() + "/root", "KRUNBOX_RUN_DIR=" + store_->path() + "/run",
                                  "KRUNBOX_REGISTRIES_CONFIG=" + store_->path() + "/none.json",
                                  "DOCKER_CONFIG=" + (docker_config_dir.empty() ? store_->path() + "/nodocker" : docker_config_dir)};
    RunOptions o;
    o.env = e;
    o.timeout = std::chrono::seconds(240);
    auto r = run_capture(argv, o);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : RunOutput{};
  }
  size_t count(const std::string& dir) {
    if (!fs::exists(dir)) return 0;
    size_t n = 0;
    for (auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file()) ++n;
    return n;
  }
  size_t snapshots() {
    std::string d = store_->path() + "/root/snapshots";
    if (!fs::exists(d)) return 0;
    size_t n = 0;
    for (auto& e : fs::directory_iterator(d))
      if (e.path().filename().string().size() == 64) ++n;
    return n;
  }
  std::string blobs_dir() { return store_->path() + "/root/blobs"; }

  std::unique_ptr<TempDir> store_;
};

TEST_F(PullSuite, ByTagOciThenSecondPullDownloadsNothing) {
  auto r = krunbox({"pull", reg(env->reg) + "/small:v1"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_NE(r.out.find("Pulled " + reg(env->reg) + "/small:v1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4 blobs downloaded"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("layer 3/3"), std::string::npos) << r.err;  // plain progress lines off a terminal
  EXPECT_EQ(count(blobs_dir()), 5u);                                // manifest, config, 3 layers
  if (::geteuid() == 0) {
    EXPECT_EQ(snapshots(), 3u);  // extracted while downloading
  }
  auto images = krunbox({"images"});
  EXPECT_NE(images.out.find("small"), std::string::npos) << images.out;
  auto again = krunbox({"pull", reg(env->reg) + "/small:v1"});
  ASSERT_EQ(again.status.code, 0) << again.err;
  EXPECT_NE(again.out.find("0 blobs downloaded"), std::string::npos) << again.out;
  EXPECT_NE(again.err.find("Already exists"), std::string::npos) << again.err;
}

TEST_F(PullSuite, ByDigestAndQuiet) {
  auto r = krunbox({"pull", "-q", reg(env->reg) + "/small:v1"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  std::string digest = r.out.substr(0, r.out.find('\n'));
  ASSERT_TRUE(digest.starts_with("sha256:")) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
  auto fresh = std::make_unique<TempDir>(*TempDir::create("krunbox-pull-store"));
  std::swap(store_, fresh);
  auto d = krunbox({"pull", reg(env->reg) + "/small@" + digest});
  ASSERT_EQ(d.status.code, 0) << d.err;
  EXPECT_NE(d.out.find(digest), std::string::npos) << d.out;
  auto bad = krunbox({"pull", reg(env->reg) + "/small@sha256:" + std::string(64, '0')});
  EXPECT_NE(bad.status.code, 0);
  EXPECT_NE(bad.err.find("not found"), std::string::npos) << bad.err;
}

TEST_F(PullSuite, DockerSchema2) {
  auto r = krunbox({"pull", reg(env->reg) + "/small2:v1"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  auto inspect = krunbox({"images"});
  EXPECT_NE(inspect.out.find("small2"), std::string::npos);
  if (::geteuid() == 0) {
    EXPECT_EQ(snapshots(), 3u);
  }
}

TEST_F(PullSuite, TwoPlatformIndex) {
  auto arm = krunbox({"pull", "--platform", "linux/arm64", reg(env->reg) + "/multi:v1"});
  ASSERT_EQ(arm.status.code, 0) << arm.err;
  EXPECT_NE(arm.out.find("for linux/arm64"), std::string::npos) << arm.out;
  auto host = krunbox({"pull", reg(env->reg) + "/multi:v1"});
  ASSERT_EQ(host.status.code, 0) << host.err;
  EXPECT_NE(host.out.find("for linux/amd64"), std::string::npos) << host.out;
  auto none = krunbox({"pull", "--platform", "linux/s390x", reg(env->reg) + "/multi:v1"});
  EXPECT_NE(none.status.code, 0);
  EXPECT_NE(none.err.find("s390x"), std::string::npos) << none.err;
}

TEST_F(PullSuite, ZstdLayer) {
  auto r = krunbox({"pull", reg(env->reg) + "/zstd:v1"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  if (::geteuid() == 0) {
    bool found = false;
    for (auto& e : fs::directory_iterator(store_->path() + "/root/snapshots"))
      found |= fs::exists(e.path() / "fs/z/file");
    EXPECT_TRUE(found);
  }
}

TEST_F(PullSuite, TokenAuth) {
  std::string ref = reg(env->token_reg) + "/private/small:v1";
  auto anon = krunbox({"pull", ref});
  EXPECT_NE(anon.status.code, 0);
  EXPECT_NE(anon.err.find("requires credentials"), std::string::npos) << anon.err;
  std::string cfg = store_->path() + "/docker";
  ASSERT_TRUE(make_dirs(cfg).ok());
  std::ofstream(cfg + "/config.json") << R"({"auths":{")" << reg(env->token_reg) << R"(":{"auth":"YWxpY2U6czNjcmV0"}}})";
  auto ok = krunbox({"pull", ref}, cfg);
  ASSERT_EQ(ok.status.code, 0) << ok.err;
  std::ofstream(cfg + "/config.json") << R"({"auths":{")" << reg(env->token_reg) << R"(":{"username":"alice","password":"wrong"}}})";
  auto wrong = krunbox({"pull", ref}, cfg);
  EXPECT_NE(wrong.status.code, 0);
  EXPECT_NE(wrong.err.find("rejected the credentials"), std::string::npos) << wrong.err;
}

TEST_F(PullSuite, TamperedBlobIsRejectedAndNothingStored) {
  // Flip one byte of the only layer in the registry's own storage.
  std::string layer;
  for (auto& e : fs::recursive_directory_iterator(env->work + "/tamper-data/docker/registry/v2/blobs"))
    if (e.path().filename() == "data" && fs::file_size(e.path()) > (512 << 10)) layer = e.path();
  ASSERT_FALSE(layer.empty());
  {
    std::fstream f(layer, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(1000);
    char c;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x55);
    f.seekp(1000);
    f.write(&c, 1);
  }
  auto r = krunbox({"pull", reg(env->tamper_reg) + "/tamper:v1"});
  EXPECT_NE(r.status.code, 0);
  EXPECT_NE(r.err.find("hashes to"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was stored"), std::string::npos) << r.err;
  auto images = krunbox({"images", "-q"});
  EXPECT_EQ(images.out.find("sha256"), std::string::npos) << images.out;
  EXPECT_LE(count(blobs_dir()), 1u);  // the config at most; never the layer or a manifest
  EXPECT_EQ(count(store_->path() + "/root/tmp"), 0u);
}

TEST_F(PullSuite, DroppedConnectionIsResumed) {
  auto r = krunbox({"pull", reg(env->proxy) + "/small:v1"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  std::string log = read_file(env->work + "/cut.log").value_or("");
  EXPECT_NE(log.find("cut "), std::string::npos) << log;
  EXPECT_NE(log.find("range bytes="), std::string::npos) << log;
  EXPECT_NE(log.find(" 206 "), std::string::npos) << log;
}

TEST_F(PullSuite, DroppedConnectionWithoutRangeStartsOver) {
  // The resume gets the whole blob back (200): the download starts over, and
  // the extraction that was following the first attempt is thrown away and
  // redone from the stored blob. A mix of both attempts would fail the diff ID.
  auto r = krunbox({"pull", reg(env->proxy_norange) + "/small:v1"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  std::string log = read_file(env->work + "/cut.log").value_or("");
  EXPECT_NE(log.find("ignored range bytes="), std::string::npos) << log;
  EXPECT_NE(log.find(" 200 "), std::string::npos) << log;
  auto images = krunbox({"images", "--format", "json"});
  EXPECT_NE(images.out.find("small"), std::string::npos) << images.out;
  EXPECT_GE(snapshots(), 1u);
  EXPECT_EQ(count(store_->path() + "/root/tmp"), 0u);
}

TEST_F(PullSuite, ClearErrors) {
  auto missing = krunbox({"pull", reg(env->reg) + "/nothere:v1"});
  EXPECT_NE(missing.status.code, 0);
  EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;

  auto huge = krunbox({"pull", reg(env->reg) + "/big:huge"});
  EXPECT_NE(huge.status.code, 0);
  EXPECT_NE(huge.err.find("over the limit"), std::string::npos) << huge.err;

  auto loop = krunbox({"pull", "--timeout", "30", reg(env->redirect) + "/x:v1"});
  EXPECT_NE(loop.status.code, 0);
  EXPECT_NE(loop.err.find("redirect"), std::string::npos) << loop.err;

  auto t0 = std::chrono::steady_clock::now();
  auto down = krunbox({"pull", "--timeout", "20", "127.0.0.1:1/x:v1"});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60));
  EXPECT_NE(down.status.code, 0);
  EXPECT_NE(down.err.find("127.0.0.1:1"), std::string::npos) << down.err;

  auto bad = krunbox({"pull", "Not/A/Valid:ref:"});
  EXPECT_NE(bad.status.code, 0);
  EXPECT_NE(bad.err.find("invalid"), std::string::npos) << bad.err;
}

TEST_F(PullSuite, RunPullsAsPolicySays) {
  if (env->busybox.empty()) GTEST_SKIP() << "no bundled busybox layout (scripts/setup.sh makes it)";
  std::string ref = reg(env->reg) + "/busybox:1";
  auto never = krunbox({"run", "--backend", "native", "--pull", "never", ref, "--", "echo", "hi"});
  EXPECT_NE(never.status.code, 0);
  EXPECT_NE(never.err.find("not in the local store"), std::string::npos) << never.err;
  auto missing = krunbox({"run", "--backend", "native", ref, "--", "echo", "pulled"});
  if (missing.err.find("native") != std::string::npos && missing.status.code != 0)
    GTEST_SKIP() << "the native backend is unusable here: " << missing.err;
  ASSERT_EQ(missing.status.code, 0) << missing.err;
  EXPECT_EQ(missing.out, "pulled\n");
  auto always = krunbox({"run", "--backend", "native", "--pull", "always", ref, "--", "echo", "again"});
  ASSERT_EQ(always.status.code, 0) << always.err;
  EXPECT_EQ(always.out, "again\n");
  auto bad = krunbox({"run", "--pull", "sometimes", ref});
  EXPECT_NE(bad.status.code, 0);
}

}  // namespace
}  // namespace krunbox

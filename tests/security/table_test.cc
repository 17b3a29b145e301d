// Terminal escapes from images and commands reach the user's terminal
// through `krunbox ps` and `krunbox images` (issue 21, attack 6).
//
// The COMMAND column printed an image's Cmd (or the command after --) raw,
// and IMAGES printed the image config's `created` raw: an OSC 52 clipboard
// write (ESC ] 52 ; c ; ... BEL), cursor moves and line erases (ESC [ 2A,
// ESC [ 2K), a C1 CSI (U+009B) and newlines that forge rows all reached the
// terminal. Here they come from a hostile image loaded with `krunbox load`
// and from a command line; every table must come out with none of those
// bytes and one line per row.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>

#include "base/json.h"
#include "image/test_layout.h"
#include "image/test_tar.h"
#include "security_env.h"

namespace krunbox {
namespace {

using namespace security_test;
using image::testing::LayoutBuilder;
using image::testing::TarBuilder;

// Clipboard write, two lines up, erase the line, a forged row, a carriage
// return and a C1 CSI "clear screen".
const std::string kHostile = "\x1b]52;c;aGk=\x07\x1b[2A\x1b[2K\nfake row  running\r\xc2\x9b" "2J";

std::string fmt_hex(unsigned char c) {
  char buf[4];
  std::snprintf(buf, sizeof buf, "%02x", c);
  return buf;
}

// The bytes a terminal obeys: ESC, BEL, CR, LF inside a cell, and the C1
// controls in UTF-8 (U+0080..U+009F is C2 80..C2 9F).
std::string first_control(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') continue;  // row ends are checked by counting rows
    if (c < 0x20 || c == 0x7f) return "byte 0x" + fmt_hex(c) + " at " + std::to_string(i);
    if (c == 0x9b) return "byte 0x9b at " + std::to_string(i);
    if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9f &&
        static_cast<unsigned char>(text[i + 1]) >= 0x80)
      return "C1 control U+00" + fmt_hex(static_cast<unsigned char>(text[i + 1])) + " at " + std::to_string(i);
  }
  return "";
}

// An OCI layout whose one image runs `cmd` and claims to be created `created`.
std::string hostile_layout(const std::string& dir, const Json& cmd, const std::string& created) {
  LayoutBuilder layout(dir);
  TarBuilder tar;
  tar.dir("etc", 0755).file("etc/motd", "hello\n").end();
  std::string layer = tar.str();
  Json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"created", created},
                 {"config", {{"Cmd", cmd}, {"Env", {"PATH=/bin"}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {image::Sha256::of(layer).str()}}}}};
  Json cdesc = layout.blob(config.dump(), "application/vnd.oci.image.config.v1+json");
  Json ldesc = layout.blob(TarBuilder::gzip(layer), "application/vnd.oci.image.layer.v1.tar+gzip");
  Json manifest = {{"schemaVersion", 2},
                   {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"config", cdesc},
                   {"layers", {ldesc}}};
  Json mdesc = layout.blob(manifest.dump(), "application/vnd.oci.image.manifest.v1+json");
  mdesc["annotations"] = {{"org.opencontainers.image.ref.name", "1.0"}};
  layout.manifests().push_back(mdesc);
  layout.write_index();
  return layout.dir();
}

class TableEscapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_ROOT();  // the image's root is an overlay mount
    world_ = std::make_unique<World>();
    std::string layout = hostile_layout(join_path(world_->tmp(), "layout"), {"/bin/sleep", "600", kHostile}, kHostile);
    auto load = world_->kb({"load", "--name", "evil", layout});
    ASSERT_TRUE(load.ok());
    ASSERT_EQ(load->status.code, 0) << load->err;
  }

  RunOutput ok(std::vector<std::string> args) {
    auto out = world_->kb(std::move(args));
    EXPECT_TRUE(out.ok());
    if (!out.ok()) return {};
    EXPECT_EQ(out->status.code, 0) << out->err;
    return *out;
  }

  std::unique_ptr<World> world_;
};

TEST_F(TableEscapeTest, PsShowsHostileCommandsOnOneLineWithoutEscapes) {
  // The image's Cmd, and the same bytes in a command after --, with a name.
  // The image has no /bin/sleep and exits at once; the command line's sandbox
  // keeps running (the bytes are its $0), so `ps` and `ps -q` list the same
  // sandboxes however slow the machine is.
  std::string from_image = trim(ok({"run", "-d", "--backend", "mock", "evil:1.0"}).out);
  ASSERT_EQ(from_image.size(), 64u);
  std::string from_cli = trim(
      ok({"run", "-d", "--backend", "mock", "--rootfs", "/", "--name", "x", "--", "sh", "-c", "sleep 600", kHostile})
          .out);
  ASSERT_EQ(from_cli.size(), 64u);
  // A name carrying the escapes is refused, and its error does not replay them.
  auto named = world_->kb({"run", "-d", "--backend", "mock", "--rootfs", "/", "--name", "y" + kHostile, "--", "true"});
  ASSERT_TRUE(named.ok());
  EXPECT_NE(named->status.code, 0);
  EXPECT_EQ(first_control(named->err.substr(0, named->err.size() - 1)), "") << named->err;

  for (bool all : {true, false}) {
    std::vector<std::string> ps = {"ps"};
    if (all) ps.push_back("-a");
    RunOutput out = ok(ps);
    EXPECT_EQ(first_control(out.out), "") << (all ? "ps -a: " : "ps: ") << out.out;
    ps.push_back("-q");
    size_t listed = lines_of(ok(ps).out).size();
    EXPECT_EQ(lines_of(out.out).size(), listed + 1) << "one header and one line per sandbox:\n" << out.out;
    EXPECT_EQ(out.out.find("\nfake row"), std::string::npos) << out.out;
  }
  EXPECT_EQ(lines_of(ok({"ps", "-a", "-q"}).out).size(), 2u);
}

TEST_F(TableEscapeTest, ImagesShowsAHostileCreatedDateOnOneLineWithoutEscapes) {
  RunOutput out = ok({"images"});
  EXPECT_EQ(first_control(out.out), "") << out.out;
  size_t images = lines_of(ok({"images", "-q"}).out).size();
  ASSERT_GE(images, 1u);
  EXPECT_EQ(lines_of(out.out).size(), images + 1) << "one header and one line per image:\n" << out.out;
  EXPECT_NE(out.out.find("evil"), std::string::npos) << out.out;
}

}  // namespace
}  // namespace krunbox

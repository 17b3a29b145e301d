#include "backend/native/device_filter.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace krunbox::native {
namespace {

// The program is a dozen instructions, so it is assembled here rather than
// compiled with clang's BPF target and loaded through libbpf: there is no
// object file to ship and nothing to resolve at run time.
bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

bpf_insn load_u32(uint8_t dst, uint8_t src, int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0); }
bpf_insn alu_imm(uint8_t op, uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm); }
bpf_insn jump_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) { return insn(BPF_JMP | op | BPF_K, dst, 0, off, imm); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

std::vector<bpf_insn> assemble(const std::vector<DeviceRule>& rules) {
  // r1 = struct bpf_cgroup_dev_ctx {u32 access_type; u32 major; u32 minor}
  std::vector<bpf_insn> p;
  std::vector<size_t> to_deny;  // jumps patched to the final "return 0"
  p.push_back(load_u32(2, 1, 0));                                // r2 = access_type
  p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, 3, 2, 0, 0));    // r3 = r2
  p.push_back(alu_imm(BPF_AND, 3, 0xffff));                      // r3 = type
  p.push_back(alu_imm(BPF_RSH, 2, 16));                          // r2 = access
  p.push_back(load_u32(4, 1, 4));                                // r4 = major
  p.push_back(load_u32(5, 1, 8));                                // r5 = minor
  to_deny.push_back(p.size());
  p.push_back(jump_imm(BPF_JSET, 2, BPF_DEVCG_ACC_MKNOD, 0));    // creating: no
  to_deny.push_back(p.size());
  p.push_back(jump_imm(BPF_JNE, 3, BPF_DEVCG_DEV_CHAR, 0));      // block devices: no
  for (const auto& r : rules) {
    bool any_minor = r.minor < 0;
    int16_t skip = any_minor ? 2 : 3;  // past this rule's checks and its "return 1"
    p.push_back(jump_imm(BPF_JNE, 4, static_cast<int32_t>(r.major), skip));
    if (!any_minor) p.push_back(jump_imm(BPF_JNE, 5, static_cast<int32_t>(r.minor), 2));
    p.push_back(alu_imm(BPF_MOV, 0, 1));
    p.push_back(exit_insn());
  }
  size_t deny = p.size();
  p.push_back(alu_imm(BPF_MOV, 0, 0));
  p.push_back(exit_insn());
  for (size_t at : to_deny) p[at].off = static_cast<int16_t>(deny - at - 1);
  return p;
}

long bpf(int cmd, bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof *attr); }

}  // namespace

const std::vector<DeviceRule>& allowed_char_devices() {
  static const std::vector<DeviceRule> rules = {
      {1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9},  // null zero full random urandom
      {5, 0}, {5, 2},                          // tty, ptmx
      {136, -1},                               // the pty slaves of the sandbox's devpts
  };
  return rules;
}

std::vector<std::string> v1_device_allow_lines() {
  std::vector<std::string> lines;
  for (const auto& r : allowed_char_devices())
    lines.push_back("c " + std::to_string(r.major) + ":" + (r.minor < 0 ? "*" : std::to_string(r.minor)) + " rw");
  return lines;
}

Result<UniqueFd> load_device_program() {
  std::vector<bpf_insn> program = assemble(allowed_char_devices());
  std::vector<char> log(4096, 0);
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = reinterpret_cast<uint64_t>(program.data());
  attr.insn_cnt = static_cast<uint32_t>(program.size());
  attr.license = reinterpret_cast<uint64_t>("Apache-2.0");
  attr.log_buf = reinterpret_cast<uint64_t>(log.data());
  attr.log_size = static_cast<uint32_t>(log.size() - 1);
  attr.log_level = 1;
  UniqueFd fd(static_cast<int>(bpf(BPF_PROG_LOAD, &attr)));
  if (!fd) {
    int err = errno;
    std::string why = log[0] ? std::string(": ") + log.data() : std::string();
    return Error::from_errno("loading the cgroup device program" + why, err);
  }
  return fd;
}

Status attach_device_program(const std::string& cgroup_dir, int program) {
  UniqueFd dir(::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error::from_errno("opening cgroup " + cgroup_dir);
  bpf_attr attr{};
  attr.target_fd = static_cast<uint32_t>(dir.get());
  attr.attach_bpf_fd = static_cast<uint32_t>(program);
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &attr) != 0) return Error::from_errno("attaching the device program to " + cgroup_dir);
  return {};
}

}  // namespace krunbox::native

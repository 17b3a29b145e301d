#include "oci/console.h"

#include <fcntl.h>
#include <stdlib.h>

#include <chrono>

#include "base/unix_socket.h"

namespace krunbox::oci {

Result<UniqueFd> open_console(const std::string& console_socket) {
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return Error::from_errno("opening a pty (posix_openpt)");
  if (::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0) return Error::from_errno("unlocking the pty");
  char name[128];
  if (::ptsname_r(master.get(), name, sizeof name) != 0) return Error::from_errno("naming the pty");
  UniqueFd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return Error::from_errno(std::string("opening ") + name);
  auto sock = connect_unix_socket(console_socket, std::chrono::seconds(5));
  if (!sock) return std::move(sock).error().wrap("the console socket " + console_socket);
  KRUNBOX_TRY_CTX(send_fd(sock->get(), master.get(), name), "sending the pty to the console socket " + console_socket);
  return slave;
}

}  // namespace krunbox::oci

// The guest side of a VM's published UDP ports (proto/udp_frame.h): frames
// from the host's relay port become datagrams to the guest's own address at
// the published guest port, from one socket per flow, and what the guest's
// server answers on a flow goes back as frames.
#pragma once

#include <netinet/in.h>

#include <string>

namespace krunbox::agent {

// Starts the relay on its own thread, for the agent's lifetime: it opens the
// virtio-serial port `port_name` (again, whenever the host side goes away)
// and delivers to `guest_address`.
void start_udp_relay(const std::string& port_name, in_addr guest_address);

}  // namespace krunbox::agent

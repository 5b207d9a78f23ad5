// systemd's readiness protocol (sd_notify(3), a stable interface): state
// lines ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...") sent as one
// datagram to the Unix socket $NOTIFY_SOCKET names, so that darasa.service
// can be Type=notify. Written here rather than linking libsystemd for these
// few lines; does nothing when darasa does not run under systemd.
// Thread-safe after takeNotifySocket().
#pragma once

#include <string>
#include <string_view>

namespace darasa::cli {

// Reads $NOTIFY_SOCKET and removes it from the environment, so that the
// labs and plugins darasa starts cannot speak for the daemon. Call once,
// before other threads start; later calls keep the first answer.
void takeNotifySocket();

// Sends the state lines; false when there is no socket or sending failed
// (nothing else to do about it: the protocol is best-effort).
bool notifySystemd(std::string_view state);

// The socket taken ("" = none), e.g. for logs.
const std::string& notifySocket();

}  // namespace darasa::cli

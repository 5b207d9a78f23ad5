// The libvirt provider as a target of the provider conformance suite
// (conformance_test.cpp adds it when built with DARASA_CONFORMANCE_LIBVIRT).
// Its labs boot the example guest (examples/images/build-vm-guest.sh) on
// qemu:///system (scripts/libvirt-service.sh). Not thread-safe (test setup).
#pragma once

#include "conformance.h"

namespace darasa::conformance {

// Lab files go under the test's directory; the target is "missing" (its
// tests fail with the reason) when libvirtd does not answer or the guest
// image is not built.
ConformanceTarget libvirtConformanceTarget();

}  // namespace darasa::conformance

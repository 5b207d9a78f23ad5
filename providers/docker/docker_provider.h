// The "docker" provider: one container per lab through the Docker Engine API
// (1.25 … 1.41, negotiated), served by Docker or by Podman's
// `podman system service` (tested: Podman 4.3.1 and Docker 20.10.24 on
// Debian 12). Thread-safe: every Provider call may run at once.
//
// Options (ProviderConfig::options; all optional):
//   host            unix:///path | tcp://host:port | https://host:port. Default:
//                   $DOCKER_HOST, else the first socket that exists of
//                   /run/podman/podman.sock, /var/run/docker.sock.
//   tlsCa, tlsCert, tlsKey
//                   PEM files for a TLS endpoint (tcp:// becomes https://).
//                   Default with a tcp $DOCKER_HOST: $DOCKER_CERT_PATH/{ca,cert,key}.pem.
//   apiVersion      highest API version to use (default 1.41).
//   ulimits         "nofile=1024:1024,nproc=512:512" for every lab (on Podman
//                   name both nofile and nproc: an unnamed one gets a value
//                   runc may not set here, and start fails).
//   credentials     files (default) | env | none — how a trainee's credentials
//                   get into the lab (below).
//   credentialsUid, credentialsGid
//                   owner of the uploaded ~/.ssh files (default 1000:1000).
//   stopTimeout     seconds a lab gets between SIGTERM and SIGKILL (default 10).
//   subnetPool      IPv4 pool the lab/cohort networks' /24 subnets come from
//                   (default 10.89.0.0/16; its first /24 is left to the engine).
//   internalNetworks  "true": isolated/cohort networks are Internal (no route
//                   out of the host) — then no ports can be published, and
//                   validate() refuses templates with ports.
//   init            "true": the engine's init (catatonit, tini) is PID 1 and
//                   passes signals on — for images whose command ignores a
//                   stop's SIGTERM as PID 1 (each stop then waits stopTimeout).
//   maxParallel     calls worth running at once (default 8).
//
// What a lab is: a container "darasa-<lab id>" carrying the labels darasa.lab,
// darasa.cohort, darasa.trainee, darasa.generation, darasa.template-hash (plus
// the template's labels, darasa.network and darasa.ports), made from
// spec.image (never pulled: a missing image is kNotFound with a hint), with
// spec.command/env/workdir/user, resources as NanoCpus, Memory (= MemorySwap:
// no swap), PidsLimit and the ulimits option (spec.resources.diskBytes is not
// enforced), and each spec port published on 127.0.0.1 at a port the engine
// picks (read back from inspect). Containers without a darasa.lab label are
// never listed, changed or removed.
//
// Networks: none → NetworkMode "none" (no ports possible); isolated → a bridge
// network "darasa-<lab>" per lab; cohort → one bridge network
// "darasa-cohort-<cohort>" shared by the cohort's labs and removed with its
// last lab; host is refused. Each network gets an explicit /24 from
// subnetPool, and on Podman the "isolate" option, so labs on different
// networks cannot reach each other. An Internal network would also cut the
// labs off from the outside, but Podman 4.3 publishes no ports from one (seen:
// the host port accepts and then hangs; Docker's internal networks are not
// meant for published ports either), so by default the bridge is not
// internal: labs can open connections out through the engine's NAT. Use internalNetworks=true for port-less labs that must stay inside.
// Known engine bug (seen with Podman 4.3 / netavark 1.4.0): tearing down any
// container on an "isolate" network (a stop, a destroy) removes netavark's
// FORWARD jump to NETAVARK_ISOLATION_1 for all of them until the next
// container starts; in between, labs on different networks can reach each
// other (tests/providers/docker_provider_test.cpp shows it). Where that
// matters, use Docker (its bridges are isolated by their own rules) or a
// netavark without this bug.
//
// Credentials (spec.credentials, filled by the core), by the credentials option:
//   files  uploaded before the first start (PUT /containers/{id}/archive):
//          /etc/darasa/user, /etc/darasa/password.hash (0600, the crypt
//          "$6$" hash only, when access.password) and
//          /home/<user>/.ssh/authorized_keys (0600, when access.sshKey).
//   env    DARASA_USER, DARASA_PASSWORD, DARASA_PASSWORD_HASH,
//          DARASA_AUTHORIZED_KEY in the container's environment (visible to
//          anyone who may inspect the container: prefer files).
//   none   nothing is injected.
// The image decides what to do with them: examples/images/darasa-lab-init
// (in localhost/darasa/busybox-lab:1) makes the account and runs dropbear.
//
// Readiness (probe): readiness.exec runs in the lab and must exit 0;
// readiness.tcpPort must accept on 127.0.0.1 and, unless the service speaks
// first (SSH does), must be listening inside the lab (/proc/net/tcp, read
// with `cat` through exec) — a published port can accept connections before
// the service behind it is up. Without either, running is ready.
//
// A create cut short (the engine stopped between making the container and
// starting it) leaves a container that was never started, maybe without the
// trainee's credentials: it is observed as failed, so the reconciler removes
// it and makes it again. Podman 4.3 can also leave, when its API service dies
// mid-create, a storage-only container that holds the name "darasa-<lab>"
// without being a container of its own (inspect: 404, create: "name already
// in use"); create() removes it after waiting 3 s for a racing create, and
// asks to be retried (kUnavailable).
//
// stop() keeps the container; start() resumes it. After start() Docker may
// publish on new host ports: inspect() again for the endpoints. A container
// that exited counts as stopped when its code is 0 or that of a stop signal
// (130, 137, 143) or when darasa's stop() stopped it (it leaves a mark,
// /etc/darasa/stopped-by-darasa, newer than the start); otherwise, or when
// the OOM killer ended it, as failed.
#pragma once

#include <memory>

#include "provisioner/provider.h"

namespace darasa::providers::docker {

// Makes the provider; fails only on malformed options (kInvalid). The engine
// is first contacted by the first call (usable() says whether it answers).
Result<std::unique_ptr<Provider>> makeDockerProvider(const ProviderConfig& config);

// The same provider, defaulting "host" to Podman's root socket
// (unix:///run/podman/podman.sock) instead of looking for one.
Result<std::unique_ptr<Provider>> makePodmanProvider(const ProviderConfig& config);

}  // namespace darasa::providers::docker

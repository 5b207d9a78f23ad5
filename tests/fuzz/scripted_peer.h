// The other end of a provider's conversation, played from a script, for
// the fuzz targets that feed providers what an engine or a plugin might
// answer: a server on a Unix socket that answers each request (an HTTP
// request, or one JSON line) with the next answer of the script, and once
// the script is used up a fixed "no more answers" error (to a plugin
// handshake: a valid one, so that the plugin is not restarted again and again). One thread
// serves every connection. setScript() and served() are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "provisioner/provider.h"

namespace darasa::fuzz {

class ScriptedPeer {
 public:
  enum class Protocol {
    kHttp,   // answers are "STATUS\nBODY" (a first line that is no number means 200)
    kLines,  // answers are lines; "@ID@" in them becomes the request's "id"
  };
  ScriptedPeer(Protocol protocol, std::string socketPath);
  ~ScriptedPeer();
  ScriptedPeer(const ScriptedPeer&) = delete;
  ScriptedPeer& operator=(const ScriptedPeer&) = delete;

  const std::string& socketPath() const { return path_; }
  // The answers to the next requests, in order (replaces what is left).
  void setScript(std::vector<std::string> answers);
  // Requests answered since the last setScript(), and what they were
  // (request lines) when $DARASA_FUZZ_VERBOSE is set, for writing seeds.
  int served() const { return served_.load(); }
  // Closes every connection now (the peer "dies"), and returns once done.
  void hangUp();

 private:
  struct Conn;
  void loop();
  // Consumes complete requests from c's buffer; false to close c.
  bool answer(Conn& c);
  std::string next(const std::string& requestId, bool handshake);

  Protocol protocol_;
  std::string path_;
  int listenFd_ = -1;
  int stop_[2] = {-1, -1};
  std::mutex mu_;
  std::vector<std::string> script_;
  size_t at_ = 0;
  std::atomic<int> served_{0};
  std::atomic<int> hangUps_{0};  // done by the loop
  bool verbose_ = false;
  std::thread thread_;
};

// Splits a fuzz input into answers at lines that are exactly "----".
std::vector<std::string> splitAnswers(const std::string& input);

// Every call of the provider contract once, in a lab's order of life
// (usable, validate, list, inspect, create, probe, activity, exec, stop,
// start, destroy, capacity, info), each with its own short deadline: what
// the fuzz targets make a provider ask its scripted peer.
void exerciseProvider(Provider& provider, const LabSpec& spec, std::chrono::milliseconds perCall);

}  // namespace darasa::fuzz

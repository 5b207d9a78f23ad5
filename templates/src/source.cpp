// Sources, the located Node tree, and the yaml-cpp adapter (the only file
// that includes yaml-cpp: its exceptions stop here).
// g++ 12 warns about yaml-cpp 0.7's own node/impl.h (a known false positive
// once its templates are inlined here); the warning is not about our code.
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "internal.h"
#include "templates/units.h"

namespace darasa::templates {
namespace fs = std::filesystem;

// ---------------------------------------------------------------- SourceFile

void SourceFile::indexLines() {
  lineStarts.clear();
  lineStarts.push_back(0);
  for (size_t i = 0; i < content.size(); ++i)
    if (content[i] == '\n') lineStarts.push_back(i + 1);
}

std::string_view SourceFile::lineText(int line) const {
  if (line < 1 || static_cast<size_t>(line) > lineStarts.size()) return {};
  size_t b = lineStarts[line - 1];
  size_t e = static_cast<size_t>(line) < lineStarts.size() ? lineStarts[line] - 1 : content.size();
  if (b > content.size()) return {};
  std::string_view v(content.data() + b, e - b);
  if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
  return v;
}

int SourceFile::charColumn(int line, int byteColumn) const {
  std::string_view t = lineText(line);
  int chars = 1;
  for (int i = 0; i < byteColumn - 1 && static_cast<size_t>(i) < t.size(); ++i)
    if ((static_cast<unsigned char>(t[i]) & 0xC0) != 0x80) ++chars;
  // Past the end of the text (e.g. a column on the line end): count the rest as bytes.
  if (static_cast<size_t>(byteColumn - 1) > t.size()) chars += byteColumn - 1 - static_cast<int>(t.size());
  return chars;
}

std::pair<int, int> SourceFile::lineColOf(size_t offset) const {
  auto it = std::upper_bound(lineStarts.begin(), lineStarts.end(), offset);
  int line = static_cast<int>(it - lineStarts.begin());
  return {line, static_cast<int>(offset - lineStarts[line - 1]) + 1};
}

SourcePtr makeSource(std::string name, std::string dir, std::string content) {
  auto s = std::make_shared<SourceFile>();
  s->name = std::move(name);
  s->dir = std::move(dir);
  s->content = std::move(content);
  s->indexLines();
  return s;
}

Pos posAtOffset(const SourcePtr& src, size_t offset) {
  Pos p;
  p.src = src;
  if (!src) return p;
  auto [line, col] = src->lineColOf(std::min(offset, src->content.size()));
  p.line = line;
  p.col = col;
  p.offset = offset;
  return p;
}

// ---------------------------------------------------------------- Node

const MapEntry* Node::entry(std::string_view key) const {
  for (const auto& e : entries)
    if (e.key == key) return &e;
  return nullptr;
}

const Node* Node::get(std::string_view key) const {
  const MapEntry* e = entry(key);
  return e ? &e->value : nullptr;
}

std::string describe(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kNull: return "nothing";
    case Node::Kind::kSeq: return "a list";
    case Node::Kind::kMap: return "a map";
    case Node::Kind::kScalar: break;
  }
  std::string t = n.text;
  if (t.size() > 60) t = t.substr(0, 57) + "...";
  return "\"" + t + "\"";
}

namespace {
bool isCoreNull(std::string_view t) { return t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL"; }
std::optional<bool> coreBool(std::string_view t) {
  if (t == "true" || t == "True" || t == "TRUE") return true;
  if (t == "false" || t == "False" || t == "FALSE") return false;
  return std::nullopt;
}
}  // namespace

nlohmann::json nodeToJson(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kNull: return nullptr;
    case Node::Kind::kSeq: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& i : n.items) a.push_back(nodeToJson(i));
      return a;
    }
    case Node::Kind::kMap: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& e : n.entries) o[e.key] = nodeToJson(e.value);
      return o;
    }
    case Node::Kind::kScalar: break;
  }
  if (n.quoted) return n.text;
  if (isCoreNull(n.text)) return nullptr;
  if (auto b = coreBool(n.text)) return *b;
  if (auto i = parseInteger(n.text)) {
    if (std::to_string(*i) == n.text) return *i;
    return n.text;  // "007", "+3": keep the text
  }
  // Floats only when the JSON form gives back exactly what was written.
  static const std::string kFloatChars = "0123456789.eE+-";
  if (!n.text.empty() && n.text.find_first_not_of(kFloatChars) == std::string::npos) {
    try {
      nlohmann::json f = nlohmann::json::parse(n.text);
      if (f.is_number() && f.dump() == n.text) return f;
    } catch (const nlohmann::json::exception&) {
    }
  }
  return n.text;
}

Node jsonToNode(const nlohmann::json& j, const Pos& pos) {
  Node n;
  n.pos = pos;
  if (j.is_null()) {
    n.kind = Node::Kind::kNull;
  } else if (j.is_object()) {
    n.kind = Node::Kind::kMap;
    for (const auto& [k, v] : j.items()) n.entries.push_back({k, pos, jsonToNode(v, pos)});
  } else if (j.is_array()) {
    n.kind = Node::Kind::kSeq;
    for (const auto& v : j) n.items.push_back(jsonToNode(v, pos));
  } else if (j.is_string()) {
    n.kind = Node::Kind::kScalar;
    n.text = j.get<std::string>();
    n.quoted = true;
  } else {
    n.kind = Node::Kind::kScalar;
    n.text = j.dump();
  }
  return n;
}

Pos posInScalar(const Node& n, std::string_view needle, int occurrence) {
  const Pos& p = n.pos;
  if (!p.src || p.offset == std::string::npos || needle.empty()) return p;
  const std::string& c = p.src->content;
  // The scalar's text in the source is at most a little longer than its value
  // (quotes, escapes, folded line breaks); look no further than that.
  size_t limit = std::min(c.size(), p.offset + n.text.size() * 2 + 16);
  size_t at = p.offset;
  for (int k = 0;; ++k) {
    size_t f = c.find(needle, at);
    if (f == std::string::npos || f + needle.size() > limit) return p;
    if (k == occurrence) return posAtOffset(p.src, f);
    at = f + 1;
  }
}

// ---------------------------------------------------------------- reading text

bool checkText(const std::string& content, const SourcePtr& src, Diags& d) {
  Pos wholeFile;
  wholeFile.src = src;
  if (content.size() >= 2 && ((static_cast<unsigned char>(content[0]) == 0xFF &&
                               static_cast<unsigned char>(content[1]) == 0xFE) ||
                              (static_cast<unsigned char>(content[0]) == 0xFE &&
                               static_cast<unsigned char>(content[1]) == 0xFF))) {
    d.error(wholeFile, "", "not a text file: it is UTF-16 encoded (save it as UTF-8)");
    return false;
  }
  // Binary data: said of the whole file, never shown (its "line" would be
  // raw bytes, up to the size limit).
  size_t nul = content.find('\0');
  if (nul != std::string::npos) {
    d.error(wholeFile, "", "not a text file: it holds binary data (a NUL byte at byte " + std::to_string(nul + 1) + ")");
    return false;
  }
  size_t bad = firstInvalidUtf8(content);
  if (bad != std::string::npos) {
    d.error(posAtOffset(src, bad), "", "not a text file: invalid UTF-8 (save it as UTF-8)");
    return false;
  }
  return true;
}

std::optional<std::string> readTextFile(const std::string& path, const std::string& display,
                                        const ReadLimits& limits, Diags& d, const Pos* where,
                                        std::string_view what) {
  Pos filePos;
  filePos.src = makeSource(display, "", "");
  const Pos& at = where ? *where : filePos;
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    d.error(at, "", std::string(what) + " \"" + display + "\" not found");
    return std::nullopt;
  }
  if (fs::is_directory(status)) {
    d.error(at, "", std::string(what) + " \"" + display + "\" is a directory, not a file");
    return std::nullopt;
  }
  auto size = fs::file_size(path, ec);
  if (!ec && size > limits.maxFileBytes) {
    d.error(at, "",
            std::string(what) + " \"" + display + "\" is too large (" + formatSize(static_cast<int64_t>(size)) +
                ", the limit is " + formatSize(static_cast<int64_t>(limits.maxFileBytes)) + ")");
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    d.error(at, "", std::string("cannot read ") + std::string(what) + " \"" + display + "\": " + std::strerror(errno));
    return std::nullopt;
  }
  std::string content;
  content.reserve(static_cast<size_t>(ec ? 0 : size));
  // Read at most one byte past the limit: a file that grew (or a pipe) is still refused.
  std::vector<char> buf(64 * 1024);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    content.append(buf.data(), static_cast<size_t>(in.gcount()));
    if (content.size() > limits.maxFileBytes) {
      d.error(at, "", std::string(what) + " \"" + display + "\" is too large (the limit is " +
                          formatSize(static_cast<int64_t>(limits.maxFileBytes)) + ")");
      return std::nullopt;
    }
  }
  if (content.size() >= 3 && content.compare(0, 3, "\xEF\xBB\xBF") == 0) content.erase(0, 3);
  return content;
}

// ---------------------------------------------------------------- YAML

namespace {

constexpr int kMaxDepth = 64;
constexpr size_t kMaxNodes = 1'000'000;
constexpr int kMaxDocuments = 10'000;

size_t countNodes(const Node& n) {
  size_t c = 1;
  for (const auto& i : n.items) c += countNodes(i);
  for (const auto& e : n.entries) c += countNodes(e.value);
  return c;
}

// Builds Nodes straight from yaml-cpp's parse events (rather than through
// YAML::Node), so that depth, size and aliases are bounded by us.
class Builder : public YAML::EventHandler {
 public:
  Builder(SourcePtr src, Diags& d) : src_(std::move(src)), d_(d) {}

  bool failed() const { return failed_; }
  std::vector<Node>& documents() { return docs_; }
  const Pos& lastDocumentStart() const { return docStart_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    docStart_ = posOf(mark);
    stack_.clear();
    root_.reset();
  }
  void OnDocumentEnd() override {
    if (failed_) return;
    if (root_ && !root_->isNull()) docs_.push_back(std::move(*root_));
    root_.reset();
  }
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Node n;
    n.pos = posOf(mark);
    finish(std::move(n), anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (failed_) return;
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      fail(posOf(mark), "an alias refers to a value that is not complete yet");
      return;
    }
    nodes_ += it->second.second;
    if (!checkBudget(posOf(mark))) return;
    Node copy = it->second.first;
    finish(std::move(copy), 0, /*counted=*/true);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (failed_) return;
    Node n;
    n.kind = Node::Kind::kScalar;
    n.pos = posOf(mark);
    n.text = value;
    n.quoted = tag != "?";
    if (n.quoted) checkClosed(n.pos);
    finish(std::move(n), anchor);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(Node::Kind::kSeq, mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(Node::Kind::kMap, mark, anchor);
  }
  void OnMapEnd() override { close(); }

  void fail(const Pos& p, std::string msg) {
    if (failed_) return;
    failed_ = true;
    d_.error(p, "", std::move(msg));
  }

 private:
  struct Frame {
    Node node;
    YAML::anchor_t anchor = 0;
    std::optional<Node> key;  // a map's key waiting for its value
    bool skipValue = false;   // the key was not usable: drop its value
  };

  Pos posOf(const YAML::Mark& m) const {
    Pos p;
    p.src = src_;
    if (m.line < 0 || m.pos < 0) return p;
    p.line = m.line + 1;
    p.col = m.column + 1;
    p.offset = static_cast<size_t>(m.pos);
    return p;
  }

  bool checkBudget(const Pos& p) {
    if (nodes_ <= kMaxNodes) return true;
    fail(p, "document too large: more than " + std::to_string(kMaxNodes) + " values (after expanding aliases)");
    return false;
  }

  void open(Node::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (failed_) return;
    Frame f;
    f.node.kind = kind;
    f.node.pos = posOf(mark);
    f.anchor = anchor;
    if (static_cast<int>(stack_.size()) >= kMaxDepth) {
      fail(f.node.pos, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
      return;
    }
    ++nodes_;
    if (!checkBudget(f.node.pos)) return;
    stack_.push_back(std::move(f));
  }

  void close() {
    if (failed_ || stack_.empty()) return;
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    finish(std::move(f.node), f.anchor, /*counted=*/true);
  }

  // A complete value: becomes the document root, a list item, a map key or a map value.
  void finish(Node n, YAML::anchor_t anchor, bool counted = false) {
    if (failed_) return;
    if (!counted && ++nodes_ && !checkBudget(n.pos)) return;
    if (anchor) anchors_[anchor] = {n, countNodes(n)};
    if (stack_.empty()) {
      root_ = std::move(n);
      return;
    }
    Frame& top = stack_.back();
    if (top.node.isSeq()) {
      top.node.items.push_back(std::move(n));
      return;
    }
    if (!top.key) {
      top.skipValue = !n.isScalar();
      if (top.skipValue)
        d_.error(n.pos, "", "a map key must be a plain string, not " + std::string(n.isMap() ? "a map" : n.isSeq() ? "a list" : "empty"));
      top.key = std::move(n);
      return;
    }
    Node key = std::move(*top.key);
    top.key.reset();
    if (top.skipValue) return;
    for (const auto& e : top.node.entries) {
      if (e.key == key.text) {
        d_.error(key.pos, "", "duplicate key \"" + key.text + "\" (first on line " + std::to_string(e.keyPos.line) + ")");
        return;
      }
    }
    // A null value's mark is where the next token starts; the key is a better place.
    if (n.isNull()) n.pos = key.pos;
    top.node.entries.push_back({std::move(key.text), key.pos, std::move(n)});
  }

  // yaml-cpp accepts a quoted scalar that runs to the end of the file; a
  // person forgot the closing quote there.
  void checkClosed(const Pos& p) {
    if (p.offset == std::string::npos || p.offset >= src_->content.size()) return;
    const std::string& c = src_->content;
    char q = c[p.offset];
    if (q != '"' && q != '\'') return;
    for (size_t i = p.offset + 1; i < c.size(); ++i) {
      if (q == '"' && c[i] == '\\') {
        ++i;
      } else if (c[i] == q) {
        if (q == '\'' && i + 1 < c.size() && c[i + 1] == '\'') {
          ++i;
          continue;
        }
        return;
      }
    }
    fail(p, std::string("unclosed quote: this ") + (q == '"' ? "\"" : "'") +
                " string has no closing quote before the end of the file");
  }

  SourcePtr src_;
  Diags& d_;
  bool failed_ = false;
  size_t nodes_ = 0;
  std::vector<Frame> stack_;
  std::optional<Node> root_;
  std::vector<Node> docs_;
  std::map<YAML::anchor_t, std::pair<Node, size_t>> anchors_;
  Pos docStart_;
};

// YAML forbids tabs in indentation; yaml-cpp then reports something unrelated.
std::optional<Pos> findIndentTab(const SourcePtr& src, int uptoLine) {
  for (int line = 1; line <= uptoLine && static_cast<size_t>(line) <= src->lineStarts.size(); ++line) {
    std::string_view t = src->lineText(line);
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] == '\t') return posAtOffset(src, src->lineStarts[line - 1] + i);
      if (t[i] != ' ') break;
    }
  }
  return std::nullopt;
}

std::string friendlyYamlMessage(const std::string& msg) {
  if (msg == "illegal map value") return "illegal map value (check the indentation, or quote a value that contains \": \")";
  if (msg == "end of map not found") return "end of map not found (check the indentation of this line)";
  if (msg == "end of sequence not found") return "end of list not found (check the indentation of this line)";
  if (msg == "end of map flow not found") return "end of flow map not found (a '}' is missing)";
  if (msg == "end of sequence flow not found") return "end of flow list not found (a ']' is missing)";
  return msg;
}

}  // namespace

std::vector<Node> parseYamlDocuments(const SourcePtr& src, Diags& d) {
  Builder builder(src, d);
  try {
    std::istringstream in(src->content);
    YAML::Parser parser(in);
    size_t lastStart = std::string::npos;
    for (int n = 0; parser.HandleNextDocument(builder); ++n) {
      if (builder.failed()) return {};
      // yaml-cpp 0.7 never gets past a ',' after a document's top-level flow
      // value or quoted string: it starts the same empty document forever.
      size_t start = builder.lastDocumentStart().offset;
      if ((start != std::string::npos && start == lastStart) || n >= kMaxDocuments) {
        std::string what = start < src->content.size() ? std::string(1, src->content[start]) : "end of file";
        builder.fail(builder.lastDocumentStart(),
                     "YAML syntax error: unexpected \"" + what + "\" after the end of the document's value");
        return {};
      }
      lastStart = start;
    }
  } catch (const YAML::DeepRecursion& e) {
    if (builder.failed()) return {};
    Pos p = posAtOffset(src, e.mark.pos >= 0 ? static_cast<size_t>(e.mark.pos) : 0);
    d.error(p, "", "nested too deeply for a template or cohort file");
    return {};
  } catch (const YAML::Exception& e) {
    if (builder.failed()) return {};
    int line = e.mark.line >= 0 ? e.mark.line + 1 : 1;
    if (auto tab = findIndentTab(src, line)) {
      d.error(*tab, "", "tab character in indentation (YAML allows only spaces)");
      return {};
    }
    Pos p;
    p.src = src;
    if (e.mark.pos >= 0) {
      p = posAtOffset(src, static_cast<size_t>(e.mark.pos));
    } else {
      p.line = line;
      p.col = 1;
    }
    // "bad file" is what yaml-cpp says for unbalanced flow collections at the end.
    std::string msg = e.msg == "bad file" ? "unexpected end of file (an unclosed '[' or '{'?)" : e.msg;
    d.error(p, "", "YAML syntax error: " + friendlyYamlMessage(msg));
    return {};
  } catch (const std::exception& e) {
    if (builder.failed()) return {};
    d.error(posAtOffset(src, 0), "", std::string("cannot parse: ") + e.what());
    return {};
  }
  if (builder.failed()) return {};
  return std::move(builder.documents());
}

}  // namespace darasa::templates

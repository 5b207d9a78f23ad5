// Input a person (or a broken tool) can produce: malformed YAML, empty and
// binary files, huge files, deep nesting, alias bombs, random mutations.
// Each gives a clear located error (or a result), never a crash or a hang.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include <algorithm>

#include "test_util.h"

namespace darasa::templates {
namespace {
using testing::dump;
using testing::errorsOf;
using Clock = std::chrono::steady_clock;

TEST(Robustness, TabInIndentation) {
  Bundle b = testing::load("apiVersion: darasa/v1\nkind: LabTemplate\nmetadata:\n\tname: lab\n");
  EXPECT_ONE_ERROR(b, 4, 1, "tab character in indentation (YAML allows only spaces)");
}

TEST(Robustness, UnclosedDoubleQuoteAtTheEnd) {
  Bundle b = testing::load(std::string(testing::kTemplateHead) + "spec:\n  provider: \"local\n  image: x\n");
  EXPECT_ONE_ERROR(b, 5, 13, "unclosed quote: this \" string has no closing quote before the end of the file");
}

TEST(Robustness, UnclosedSingleQuoteAtTheEnd) {
  Bundle b = testing::load(std::string(testing::kTemplateHead) + "spec:\n  provider: local\n  user: 'trainee\n");
  EXPECT_ONE_ERROR(b, 6, 9, "unclosed quote: this ' string has no closing quote before the end of the file");
}

TEST(Robustness, UnclosedQuoteInTheMiddle) {
  Bundle b = testing::load(std::string(testing::kTemplateHead) + "spec:\n  provider: \"local\n  image: \"x\"\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].line, 6);
  EXPECT_EQ(errs[0].message.rfind("YAML syntax error: ", 0), 0u) << errs[0].message;
}

TEST(Robustness, WrongIndentation) {
  Bundle b = testing::load("apiVersion: darasa/v1\nkind: LabTemplate\nmetadata:\n  name: lab\n description: x\n");
  EXPECT_ONE_ERROR(b, 5, 2, "YAML syntax error: end of map not found (check the indentation of this line)");
  b = testing::load("apiVersion: darasa/v1\nkind: LabTemplate\nmetadata:\n  name: lab\n    labels: x\n");
  EXPECT_ONE_ERROR(b, 5, 11,
                   "YAML syntax error: illegal map value (check the indentation, or quote a value that contains \": \")");
}

TEST(Robustness, UnclosedFlowList) {
  Bundle b = testing::load(std::string(testing::kTemplateHead) + "spec:\n  provider: local\n  command: [sh, -c\n");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].message.rfind("YAML syntax error: ", 0), 0u) << errs[0].message;
  EXPECT_GE(errs[0].line, 6);
}

TEST(Robustness, EmptyFiles) {
  for (const char* text : {"", "\n\n", "   \n", "# only a comment\n", "---\n", "---\n...\n"}) {
    Bundle b = testing::load(text, "empty.yaml");
    EXPECT_ONE_ERROR(b, 0, 0, "file is empty: expected a LabTemplate or Cohort document (apiVersion: darasa/v1)");
    EXPECT_EQ(formatDiagnostic(b.diagnostics[0]),
              "empty.yaml: error: file is empty: expected a LabTemplate or Cohort document (apiVersion: darasa/v1)\n");
  }
}

TEST(Robustness, DocumentThatIsNotAMap) {
  EXPECT_ONE_ERROR(testing::load("- a\n- b\n"), 1, 1,
                   "a document must be a map (apiVersion, kind, metadata, spec), got a list");
  EXPECT_ONE_ERROR(testing::load("just words\n"), 1, 1,
                   "a document must be a map (apiVersion, kind, metadata, spec), got \"just words\"");
}

TEST(Robustness, BinaryGarbage) {
  std::string nul = "apiVersion: darasa/v1\nkind: Lab";
  nul += '\0';
  nul += "\x01\x02";
  // Binary data is said of the whole file (its "line" would be raw bytes).
  EXPECT_ONE_ERROR(testing::load(nul), 0, 0, "not a text file: it holds binary data (a NUL byte at byte 32)");
  EXPECT_ONE_ERROR(testing::load("kind: \xC3\x28\xFF\xFE\n"), 1, 7, "not a text file: invalid UTF-8 (save it as UTF-8)");
  EXPECT_ONE_ERROR(testing::load(std::string("\xFF\xFE" "a\0:\0", 6)), 0, 0,
                   "not a text file: it is UTF-16 encoded (save it as UTF-8)");
  // Overlong encodings and surrogates are not UTF-8 either.
  EXPECT_FALSE(testing::load("a: \xC0\xAF\n").ok());
  EXPECT_FALSE(testing::load("a: \xED\xA0\x80\n").ok());
}

// A binary file given by mistake (a program, an archive, an image, a
// spreadsheet) gets one short line, never its bytes.
TEST(Robustness, BinaryFileGetsAShortMessage) {
  const std::vector<std::string> heads = {
      std::string("\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0", 20),
      std::string("\x1f\x8b\x08\x08\xf7\x88\x17k\0\x03README.md\0", 21),
      std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16),
      std::string("PK\x03\x04\x14\0\x06\0\x08\0", 10),
  };
  for (const auto& head : heads) {
    std::string content = head;
    for (int i = 0; i < 4096; ++i) content += static_cast<char>((i * 37) & 0xff);
    Bundle b = testing::load(content, "upload.bin");
    ASSERT_EQ(testing::errorsOf(b).size(), 1u) << testing::dump(b.diagnostics);
    std::string out = testing::dump(b.diagnostics);
    EXPECT_EQ(out.rfind("upload.bin: error: not a text file: it holds binary data (a NUL byte at byte ", 0), 0u) << out;
    EXPECT_LT(out.size(), 120u) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
}

TEST(Robustness, Utf8BomIsAccepted) {
  Bundle b = testing::load("\xEF\xBB\xBF" + std::string(testing::kTemplateHead) + "spec: {provider: local}\n");
  EXPECT_TRUE(b.diagnostics.empty()) << dump(b.diagnostics);
}

TEST(Robustness, FiftyMegabyteFileIsRefusedUnread) {
  testing::TempDir dir;
  std::string path = dir.path() + "/huge.yaml";
  {
    std::ofstream out(path, std::ios::binary);
    std::string line = "#" + std::string(62, 'p') + "\n";  // 64 bytes: 50 MiB exactly
    for (size_t written = 0; written < 50u * 1024 * 1024; written += line.size()) out << line;
  }
  auto start = Clock::now();
  Bundle b = loadFiles({path}, {});
  auto elapsed = Clock::now() - start;
  EXPECT_ONE_ERROR(b, 0, 0, "file \"" + path + "\" is too large (50Mi, the limit is 8Mi)");
  // Refused from its size alone: far quicker than parsing 50 MiB would be,
  // with room for a loaded machine (this is not a speed target).
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(Robustness, LimitIsConfigurable) {
  ValidateOptions opts;
  opts.maxFileBytes = 10;
  std::string text = std::string(testing::kTemplateHead) + "spec: {provider: local}\n";
  Bundle b = testing::load(text, "t.yaml", opts);
  EXPECT_ONE_ERROR(b, 0, 0, "\"t.yaml\" is too large (" + std::to_string(text.size()) + " bytes, the limit is 10 bytes)");
}

TEST(Robustness, MissingFileAndDirectory) {
  testing::TempDir dir;
  Bundle b = loadFiles({dir.path() + "/nope.yaml", dir.path()}, {});
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 2u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].message, "file \"" + dir.path() + "/nope.yaml\" not found");
  EXPECT_EQ(errs[1].message, "file \"" + dir.path() + "\" is a directory, not a file");
}

TEST(Robustness, DeepNestingDoesNotOverflowTheStack) {
  for (const std::string& text : {std::string(100000, '['), std::string(100000, '{'),
                                  std::string(50000, '[') + std::string(50000, ']')}) {
    auto start = Clock::now();
    Bundle b = testing::load(text);
    EXPECT_FALSE(b.ok());
    EXPECT_EQ(errorsOf(b).size(), 1u) << dump(b.diagnostics);
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  }
  std::string dashes;
  for (int i = 0; i < 100000; ++i) dashes += "- ";
  Bundle b = testing::load(dashes + "x\n");
  EXPECT_FALSE(b.ok());
}

TEST(Robustness, ModerateNestingIsReportedByOurLimit) {
  std::string text = "spec: " + std::string(100, '[') + std::string(100, ']') + "\n";
  Bundle b = testing::load(text);
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].message, "nested deeper than 64 levels");
}

TEST(Robustness, AliasBombIsBounded) {
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string prev = "a";
  for (int i = 0; i < 9; ++i) {
    std::string name = "l" + std::to_string(i);
    text += name + ": &" + name + " [";
    for (int k = 0; k < 10; ++k) text += std::string(k ? ", " : "") + "*" + prev;
    text += "]\n";
    prev = name;
  }
  auto start = Clock::now();
  Bundle b = testing::load(text);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].message, "document too large: more than 1000000 values (after expanding aliases)");
}

TEST(Robustness, JsonIsReadThroughYamlWithPositions) {
  std::string json =
      "{\n"
      "\t\"apiVersion\": \"darasa/v1\",\n"
      "\t\"kind\": \"LabTemplate\",\n"
      "\t\"metadata\": {\"name\": \"lab\"},\n"
      "\t\"spec\": {\n"
      "\t\t\"provider\": \"local\",\n"
      "\t\t\"resources\": {\"memory\": \"2 GB\", \"pids\": 64},\n"
      "\t\t\"env\": {\"PATH\": \"\\/usr\\/bin\", \"NAME\": \"Jos\\u00e9\"}\n"
      "\t}\n"
      "}\n";
  Bundle b = testing::load(json, "t.json");
  EXPECT_ONE_ERROR(b, 7, 27, "memory \"2 GB\" is not a size (use e.g. 2Gi)");
}

TEST(Robustness, JsonSyntaxErrorIsLocated) {
  Bundle b = testing::load("{\"apiVersion\": \"darasa/v1\",\n \"kind\": \"LabTemplate\"\n \"metadata\": {}}\n", "t.json");
  auto errs = errorsOf(b);
  ASSERT_EQ(errs.size(), 1u) << dump(b.diagnostics);
  EXPECT_EQ(errs[0].line, 3);
  EXPECT_EQ(errs[0].message.rfind("YAML syntax error: ", 0), 0u) << errs[0].message;
}

// yaml-cpp 0.7 alone loops forever (and eats all memory) on these: a ',' after
// a document's top-level flow value or quoted string. Found by the fuzz test.
TEST(Robustness, CommaAfterTopLevelFlowValueDoesNotHang) {
  for (const char* text : {"[a],", "{b\"},", "'q',\n", "a: 1\n---\n[a],", "{\n  \"apiVersion\": \"darasa/v1\",\n a b\"},\n"}) {
    auto start = Clock::now();
    Bundle b = testing::load(text);
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(2)) << text;
    auto errs = errorsOf(b);
    ASSERT_EQ(errs.size(), 1u) << text << "\n" << dump(b.diagnostics);
    EXPECT_EQ(errs[0].message, "YAML syntax error: unexpected \",\" after the end of the document's value") << text;
  }
  EXPECT_ONE_ERROR(testing::load("[a],"), 1, 4, "YAML syntax error: unexpected \",\" after the end of the document's value");
}

TEST(Robustness, NonScalarKeys) {
  Bundle b = testing::load("? [a, b]\n: c\n");
  auto errs = errorsOf(b);
  EXPECT_TRUE(std::any_of(errs.begin(), errs.end(), [](const Diagnostic& d) {
    return d.line == 1 && d.column == 3 && d.message == "a map key must be a plain string, not a list";
  })) << dump(b.diagnostics);
}

// Random bytes and mutations of real files: no crash, no exception, bounded time.
TEST(Robustness, FuzzedInputsNeverCrash) {
  std::vector<std::string> seeds;
  for (const char* rel : {"/examples/demo/demo.yaml", "/examples/templates/cyber-101.yaml",
                          "/examples/templates/data-notebook.json", "/examples/cohorts/ksg-cyber-2026-01.yaml"}) {
    std::ifstream in(std::string(DARASA_SOURCE_DIR) + rel, std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    ASSERT_FALSE(seeds.back().empty()) << rel;
  }
  const std::string alphabet = "[]{}:,-?&*!|>'\"%@` \t\n#\\${}0123456789abcdefghijklmnopqrstuvwxyz\xC3\xA9";
  std::mt19937 rng(20260112);  // fixed: a failure can be replayed
  auto start = Clock::now();
  int iterations = 0;
  for (; iterations < 3000 && Clock::now() - start < std::chrono::seconds(20); ++iterations) {
    std::string s = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t at = rng() % s.size();
      switch (rng() % 5) {
        case 0: s[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: s.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        case 2: s.erase(at, 1 + rng() % 16); break;
        case 3: s.insert(at, s.substr(rng() % s.size(), rng() % 64)); break;
        case 4: s[at] = static_cast<char>(rng() % 256); break;
      }
    }
    if (iterations % 10 == 0) {
      s.clear();
      for (int k = 0, n = static_cast<int>(rng() % 400); k < n; ++k) s += alphabet[rng() % alphabet.size()];
    }
    std::string name = iterations % 3 == 0 ? "fuzz.json" : "fuzz.yaml";
    // DARASA_FUZZ_DUMP=FILE keeps the input being tried, to replay a crash.
    if (const char* dumpTo = std::getenv("DARASA_FUZZ_DUMP")) std::ofstream(dumpTo, std::ios::binary) << s;
    Bundle b = loadString(std::string(DARASA_SOURCE_DIR) + "/examples/cohorts/" + name, s, {});
    for (const auto& c : b.cohorts) (void)renderCohort({&b, c.spec.name, 1}, nullptr);
    for (const auto& d : b.diagnostics) (void)formatDiagnostic(d, true);
  }
  EXPECT_GE(iterations, 100);
}

}  // namespace
}  // namespace darasa::templates

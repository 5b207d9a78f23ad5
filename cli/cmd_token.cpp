// token create|list|revoke: API tokens with roles. On the local state they
// work for whoever may write it (the admin on the machine) — that is how the
// first admin token is made, before or while `darasa serve` runs; with
// --server they go through the API (an admin's token, or an instructor's for
// their own cohort's trainees).
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "provisioner/wire.h"
#include "templates/units.h"

namespace darasa::cli {
namespace {
using nlohmann::json;

struct TokenOptions {
  std::string role;
  std::string cohort;
  std::string trainee;
  std::string name;
  std::string ttl;  // "30d", "0" = never expires
  std::string output = "table";
  std::string id;
};

std::string timeText(int64_t unixSeconds) {
  if (unixSeconds <= 0) return "";
  return formatUtc(std::chrono::system_clock::time_point(std::chrono::seconds(unixSeconds)));
}

Result<std::chrono::seconds> parseTtl(const std::string& text) {
  if (text.empty() || text == "0" || text == "never") return std::chrono::seconds(0);
  auto d = templates::parseDuration(text);
  if (!d || d->count() <= 0) return invalidError("--ttl \"" + text + "\" is not a duration (use e.g. 12h, 30d; 0 = never expires)");
  return *d;
}

void printTokenTable(const std::vector<TokenView>& list, Format f) {
  if (f == Format::kJson) {
    std::cout << json(list).dump(2) << "\n";
    return;
  }
  Table t({"id", "role", "cohort", "trainee", "name", "created", "expires", "last used", "state"});
  for (const auto& k : list) {
    const TokenRecord& r = k.record;
    t.addRow({r.id, tokenRoleName(r.role), r.cohort, r.trainee, r.name, timeText(r.createdAt),
              r.expiresAt ? timeText(r.expiresAt) : "never", timeText(r.lastUsedAt), k.state});
  }
  if (f == Format::kCsv) t.printCsv(std::cout);
  else t.printText(std::cout);
}

// The secret goes to stdout alone (TOKEN=$(darasa token create ...) works);
// what it is goes to stderr. With -o json both are in one object.
void printIssued(const IssuedToken& issued, const std::string& output, bool quiet) {
  const TokenRecord& r = issued.record;
  if (output == "json") {
    json out = tokenView(r, SystemClock::instance().now());
    out["token"] = issued.token;
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::cout << issued.token << "\n";
  if (quiet) return;
  std::cerr << "created token " << r.id << " (" << tokenScope(r).substr(5) << "; "
            << (r.expiresAt ? "expires " + timeText(r.expiresAt) : std::string("never expires")) << ")\n"
            << "It is shown only this once (the state keeps only its hash). Use it as DARASA_TOKEN or in "
               "\"Authorization: Bearer ...\"; revoke it with `darasa token revoke "
            << r.id << "`.\n";
}

int runCreate(Context& ctx, Client& client, const TokenOptions& o) {
  auto role = tokenRoleFromName(o.role);
  if (!role) return fail(invalidError("--role \"" + o.role + "\" is not admin, instructor or trainee"));
  auto ttl = parseTtl(o.ttl);
  if (!ttl) return fail(ttl.status());
  auto issued = client.createToken({*role, o.cohort, o.trainee, o.name, *ttl});
  if (!issued) return fail(issued.status());
  printIssued(issued.value(), o.output, ctx.globals().quiet);
  return kExitOk;
}

int runList(Client& client, const TokenOptions& o) {
  Format f = Format::kTable;
  parseFormat(o.output, &f);
  auto list = client.tokens();
  if (!list) return fail(list.status());
  if (list->empty() && f == Format::kTable) {
    std::cout << "no tokens (make one with `darasa token create --role admin`)\n";
    return kExitOk;
  }
  printTokenTable(list.value(), f);
  return kExitOk;
}

int runRevoke(Client& client, const TokenOptions& o) {
  if (auto s = client.revokeToken(o.id); !s) return fail(s);
  std::cout << "token " << o.id << " revoked\n";
  return kExitOk;
}

}  // namespace

void addTokenCommands(CLI::App& app, Context& ctx, int* rc) {
  auto o = std::make_shared<TokenOptions>();
  auto* token = app.add_subcommand("token", "API tokens for `darasa serve`: create, list, revoke");
  token->require_subcommand(1);
  token->footer("Without --server these work on the local state (whoever can write it is its admin): that is how\n"
                "the first admin token is made. Tokens are shown once and stored only as SHA-256 hashes.");

  auto* create = token->add_subcommand("create", "Make a token and print it (once)");
  create->add_option("--role", o->role, "admin (everything), instructor (one cohort), trainee (own lab)")
      ->required()
      ->check(CLI::IsMember({"admin", "instructor", "trainee"}));
  create->add_option("--cohort", o->cohort, "instructor: the cohort they manage; trainee: their cohort");
  create->add_option("--trainee", o->trainee, "trainee: their id in the cohort");
  create->add_option("--name", o->name, "a note for people (\"ci\", \"alice's laptop\")");
  create->add_option("--ttl", o->ttl, "lifetime, e.g. 12h or 30d (default: never expires)");
  create->add_option("-o,--output", o->output, "text (the token alone on stdout) or json")
      ->check(CLI::IsMember({"text", "table", "json"}));
  create->callback([&ctx, o, rc] { *rc = withClient(ctx, [&](Client& c) { return runCreate(ctx, c, *o); }); });

  auto* list = token->add_subcommand("list", "Tokens and their state (never the secrets)");
  list->add_option("-o,--output", o->output, "table, json or csv")->check(CLI::IsMember({"table", "json", "csv"}));
  list->callback([&ctx, o, rc] { *rc = withClient(ctx, [&](Client& c) { return runList(c, *o); }); });

  auto* revoke = token->add_subcommand("revoke", "Revoke a token at once (by its id, tok_...)");
  revoke->add_option("id", o->id, "the token's id, as `darasa token list` shows it")->required();
  revoke->callback([&ctx, o, rc] { *rc = withClient(ctx, [&](Client& c) { return runRevoke(c, *o); }); });
}

}  // namespace darasa::cli

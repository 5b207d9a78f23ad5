// token create|list|revoke: API tokens with roles. On the local state they
// work for whoever may write it (the admin on the machine) — that is how the
// first admin token is made, before or while `darasa serve` runs; with
// --server they go through the API (an admin's token, or an instructor's for
// their own cohort's trainees).
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "context.h"
#include "provisioner/api.h"
#include "remote.h"
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

std::string stateOf(const TokenRecord& t, int64_t now) {
  if (t.revokedAt > 0) return "revoked";
  if (t.expiresAt > 0 && t.expiresAt <= now) return "expired";
  return "active";
}

json tokenJson(const TokenRecord& t, int64_t now) {
  return {{"id", t.id},
          {"role", tokenRoleName(t.role)},
          {"cohort", t.cohort},
          {"trainee", t.trainee},
          {"name", t.name},
          {"createdAt", timeText(t.createdAt)},
          {"expiresAt", timeText(t.expiresAt)},
          {"revokedAt", timeText(t.revokedAt)},
          {"lastUsedAt", timeText(t.lastUsedAt)},
          {"state", stateOf(t, now)}};
}

// A token of the API's answer in the shape of tokenJson (times as RFC 3339
// whether the server sent them so or as Unix seconds).
json normalizeRemoteToken(const json& in, int64_t now) {
  auto str = [&](const char* k) { return in.contains(k) && in[k].is_string() ? in[k].get<std::string>() : ""; };
  auto timeOf = [&](const char* k) -> std::string {
    if (!in.contains(k)) return "";
    if (in[k].is_number_integer()) return timeText(in[k].get<int64_t>());
    return in[k].is_string() ? in[k].get<std::string>() : "";
  };
  json out = {{"id", str("id")},
              {"role", str("role")},
              {"cohort", str("cohort")},
              {"trainee", str("trainee")},
              {"name", str("name")},
              {"createdAt", timeOf("createdAt")},
              {"expiresAt", timeOf("expiresAt")},
              {"revokedAt", timeOf("revokedAt")},
              {"lastUsedAt", timeOf("lastUsedAt")}};
  std::string state = str("state");
  if (state.empty()) {
    TokenRecord r;
    auto secs = [&](const char* k) -> int64_t {
      return in.contains(k) && in[k].is_number_integer() ? in[k].get<int64_t>() : 0;
    };
    r.revokedAt = secs("revokedAt") > 0 || (in.contains("revokedAt") && in["revokedAt"].is_string() &&
                                            !in["revokedAt"].get<std::string>().empty())
                      ? 1
                      : 0;
    r.expiresAt = secs("expiresAt");
    state = in.contains("revoked") && in["revoked"].is_boolean() && in["revoked"].get<bool>() ? "revoked"
                                                                                                : stateOf(r, now);
  }
  out["state"] = state;
  return out;
}

Result<std::chrono::seconds> parseTtl(const std::string& text) {
  if (text.empty() || text == "0" || text == "never") return std::chrono::seconds(0);
  auto d = templates::parseDuration(text);
  if (!d || d->count() <= 0) return invalidError("--ttl \"" + text + "\" is not a duration (use e.g. 12h, 30d; 0 = never expires)");
  return *d;
}

void printTokenTable(const json& list, Format f) {
  Table t({"id", "role", "cohort", "trainee", "name", "created", "expires", "last used", "state"});
  for (const auto& k : list)
    t.addRow({k.value("id", ""), k.value("role", ""), k.value("cohort", ""), k.value("trainee", ""),
              k.value("name", ""), k.value("createdAt", ""), k.value("expiresAt", "") == "" ? "never" : k.value("expiresAt", ""),
              k.value("lastUsedAt", ""), k.value("state", "")});
  if (f == Format::kJson) std::cout << list.dump(2) << "\n";
  else if (f == Format::kCsv) t.printCsv(std::cout);
  else t.printText(std::cout);
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(SystemClock::instance().now().time_since_epoch()).count();
}

// The secret goes to stdout alone (TOKEN=$(darasa token create ...) works);
// what it is goes to stderr. With -o json both are in one object.
void printIssued(const json& record, const std::string& secret, const std::string& output, bool quiet) {
  if (output == "json") {
    json out = record;
    out["token"] = secret;
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::cout << secret << "\n";
  if (quiet) return;
  std::string scope = record.value("role", "");
  if (!record.value("cohort", "").empty()) scope += ", cohort " + record.value("cohort", "");
  if (!record.value("trainee", "").empty()) scope += ", trainee " + record.value("trainee", "");
  std::string expires = record.value("expiresAt", "");
  std::cerr << "created token " << record.value("id", "") << " (" << scope << "; "
            << (expires.empty() ? "never expires" : "expires " + expires) << ")\n"
            << "It is shown only this once (the state keeps only its hash). Use it as DARASA_TOKEN or in "
               "\"Authorization: Bearer ...\"; revoke it with `darasa token revoke "
            << record.value("id", "") << "`.\n";
}

int runCreate(Context& ctx, const TokenOptions& o) {
  auto role = tokenRoleFromName(o.role);
  if (!role) return fail(invalidError("--role \"" + o.role + "\" is not admin, instructor or trainee"));
  auto ttl = parseTtl(o.ttl);
  if (!ttl) return fail(ttl.status());
  if (ctx.isRemote()) {
    auto remote = ctx.remote();
    if (!remote) return fail(remote.status());
    json body = {{"role", o.role}, {"name", o.name}, {"ttlSeconds", ttl->count()}};
    if (!o.cohort.empty()) body["cohort"] = o.cohort;
    if (!o.trainee.empty()) body["trainee"] = o.trainee;
    auto r = remote.value()->post("/api/v1/tokens", body);
    if (!r) return fail(r.status());
    const json& rec = r->contains("record") && (*r)["record"].is_object() ? (*r)["record"] : *r;
    std::string secret = r->value("token", "");
    if (secret.empty()) return fail(internalError("the server's answer has no token"));
    printIssued(normalizeRemoteToken(rec, nowSeconds()), secret, o.output, ctx.globals().quiet);
    return kExitOk;
  }
  auto store = ctx.openStore(OpenMode::kCreate);
  if (!store) return fail(store.status());
  auto issued = createToken(*store.value(), *role, o.cohort, o.trainee, o.name, *ttl, SystemClock::instance());
  if (!issued) return fail(issued.status());
  (void)store.value()->appendAudit(ctx.actor(), "create-token", "token:" + issued->record.id,
                                   std::string("role ") + tokenRoleName(*role) +
                                       (o.cohort.empty() ? "" : ", cohort " + o.cohort) +
                                       (o.trainee.empty() ? "" : ", trainee " + o.trainee));
  printIssued(tokenJson(issued->record, nowSeconds()), issued->token, o.output, ctx.globals().quiet);
  return kExitOk;
}

int runList(Context& ctx, const TokenOptions& o) {
  Format f = Format::kTable;
  parseFormat(o.output, &f);
  json list = json::array();
  if (ctx.isRemote()) {
    auto remote = ctx.remote();
    if (!remote) return fail(remote.status());
    auto r = remote.value()->get("/api/v1/tokens");
    if (!r) return fail(r.status());
    const json& items = r->is_object() && r->contains("tokens") ? (*r)["tokens"] : *r;
    if (!items.is_array()) return fail(internalError("the server's list of tokens is not a list"));
    for (const auto& t : items) list.push_back(normalizeRemoteToken(t, nowSeconds()));
  } else {
    auto store = ctx.openStore(OpenMode::kMustExist);
    if (!store) return fail(store.status());
    auto tokens = store.value()->listTokens();
    if (!tokens) return fail(tokens.status());
    for (const auto& t : tokens.value()) list.push_back(tokenJson(t, nowSeconds()));
  }
  if (list.empty() && f == Format::kTable) {
    std::cout << "no tokens (make one with `darasa token create --role admin`)\n";
    return kExitOk;
  }
  printTokenTable(list, f);
  return kExitOk;
}

int runRevoke(Context& ctx, const TokenOptions& o) {
  if (ctx.isRemote()) {
    auto remote = ctx.remote();
    if (!remote) return fail(remote.status());
    auto r = remote.value()->del("/api/v1/tokens/" + urlSegment(o.id));
    if (!r) return fail(r.status());
  } else {
    auto store = ctx.openStore(OpenMode::kMustExist);
    if (!store) return fail(store.status());
    if (auto s = store.value()->revokeToken(o.id); !s) return fail(s);
    (void)store.value()->appendAudit(ctx.actor(), "revoke-token", "token:" + o.id);
  }
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
  create->callback([&ctx, o, rc] { *rc = runCreate(ctx, *o); });

  auto* list = token->add_subcommand("list", "Tokens and their state (never the secrets)");
  list->add_option("-o,--output", o->output, "table, json or csv")->check(CLI::IsMember({"table", "json", "csv"}));
  list->callback([&ctx, o, rc] { *rc = runList(ctx, *o); });

  auto* revoke = token->add_subcommand("revoke", "Revoke a token at once (by its id, tok_...)");
  revoke->add_option("id", o->id, "the token's id, as `darasa token list` shows it")->required();
  revoke->callback([&ctx, o, rc] { *rc = runRevoke(ctx, *o); });
}

}  // namespace darasa::cli

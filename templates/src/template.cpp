// LabTemplate documents: metadata and parameter declarations, the typed
// reading of a spec, extends resolution and ${parameter} substitution.
#include <algorithm>
#include <set>

#include "internal.h"
#include "templates/units.h"

namespace darasa::templates {

namespace {

const std::vector<std::string> kTypeNames = {"string", "int", "bool", "size", "duration", "enum"};
const std::vector<std::string> kImageProviders = {"docker", "podman", "lxd", "libvirt"};

std::optional<ParameterType> typeFromName(const std::string& s) {
  for (size_t i = 0; i < kTypeNames.size(); ++i)
    if (kTypeNames[i] == s) return static_cast<ParameterType>(i);
  return std::nullopt;
}

std::optional<bool> boolFromText(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

bool isLabelKey(std::string_view k) {
  if (k.empty() || k.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(k.front()) || !alnum(k.back())) return false;
  return std::all_of(k.begin(), k.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-' || c == '/'; });
}

bool isEnvName(std::string_view k) {
  if (k.empty() || k.size() > 255 || std::isdigit(static_cast<unsigned char>(k[0]))) return false;
  return std::all_of(k.begin(), k.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool isUnixUser(std::string_view u) {
  if (u.empty() || u.size() > 32) return false;
  if (!(std::islower(static_cast<unsigned char>(u[0])) || u[0] == '_')) return false;
  return std::all_of(u.begin(), u.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_' ||
           c == '-';
  });
}

}  // namespace

const char* parameterTypeName(ParameterType t) { return kTypeNames[static_cast<size_t>(t)].c_str(); }

const std::vector<std::string>& defaultProviders() {
  static const std::vector<std::string> kDefault = {"docker", "libvirt", "local", "lxd", "podman"};
  return kDefault;
}

std::string checkParameterValue(const ParameterDecl& p, const std::string& v) {
  switch (p.type) {
    case ParameterType::kString: return "";
    case ParameterType::kInt:
      return parseInteger(v) ? "" : "\"" + v + "\" is not a whole number";
    case ParameterType::kBool:
      return boolFromText(v) ? "" : "\"" + v + "\" is not true or false";
    case ParameterType::kSize:
      return parseSize(v) ? "" : "\"" + v + "\" is not a size (use e.g. 2Gi)";
    case ParameterType::kDuration:
      return parseDuration(v) ? "" : "\"" + v + "\" is not a duration (use e.g. 90s, 15m, 1h30m or 2d)";
    case ParameterType::kEnum:
      if (std::find(p.values.begin(), p.values.end(), v) != p.values.end()) return "";
      return "\"" + v + "\" is not one of " + joinNames(p.values) + didYouMean(v, p.values);
  }
  return "";
}

std::string normalizeParameterValue(const ParameterDecl& p, const std::string& v) {
  if (p.type == ParameterType::kInt) {
    if (auto i = parseInteger(v)) return std::to_string(*i);
  }
  if (p.type == ParameterType::kBool) {
    if (auto b = boolFromText(v)) return *b ? "true" : "false";
  }
  return v;
}

// ---------------------------------------------------------------- documents

namespace {

Labels readLabels(const Node* n, const std::string& path, Diags& d) {
  Labels out;
  auto m = getStringMap(n, path, d);
  if (!m) return out;
  for (const auto& e : n->entries) {
    std::string p = childPath(path, e.key);
    if (!isLabelKey(e.key)) {
      d.error(e.keyPos, p,
              "label key \"" + e.key + "\" is not valid: use letters, digits, '.', '_', '-' and '/' (at most 63)");
      continue;
    }
    if (e.key.rfind("darasa.", 0) == 0) {
      d.error(e.keyPos, p, "label \"" + e.key + "\" is reserved: darasa sets the darasa.* labels itself");
      continue;
    }
    out[e.key] = (*m)[e.key];
  }
  return out;
}

}  // namespace

std::optional<TemplateDoc> parseTemplateDoc(const Node& doc, const SourcePtr& src, TemplateOrigin origin,
                                            Diags& d) {
  int before = d.errors();
  auto data = std::make_shared<detail::TemplateData>();
  data->src = src;
  data->doc = doc;
  const Node& root = data->doc;
  TemplateDoc t;
  t.sourceFile = src->name;
  t.line = root.pos.line;
  t.origin = origin;

  Fields top(root, "", d, {"apiVersion", "kind", "metadata", "extends", "parameters", "spec"});
  const Node* metadata = top.require("metadata", root.pos);
  if (metadata && expectMap(*metadata, "metadata", d)) {
    Fields md(*metadata, "metadata", d, {"name", "labels", "description"});
    const MapEntry* me = root.entry("metadata");
    if (const Node* name = md.require("name", me->keyPos)) {
      if (auto s = getString(name, "metadata.name", d)) {
        data->namePos = name->pos;
        t.name = *s;
        if (!isDnsLabel(*s))
          d.error(name->pos, "metadata.name",
                  "template name \"" + *s +
                      "\" is not valid: use lower-case letters, digits and '-', starting and ending with a letter or "
                      "digit (at most 63)");
      }
    }
    t.labels = readLabels(md.get("labels"), "metadata.labels", d);
    if (auto s = getString(md.get("description"), "metadata.description", d)) t.description = *s;
  }

  if (const Node* ext = top.get("extends")) {
    if (auto s = getString(ext, "extends", d)) {
      t.extends = *s;
      data->extendsPos = ext->pos;
      if (*s == t.name && !t.name.empty()) d.error(ext->pos, "extends", "template \"" + t.name + "\" extends itself");
    }
  }

  if (const Node* params = top.get("parameters"); params && expectSeq(*params, "parameters", d)) {
    std::map<std::string, int> seen;
    for (size_t i = 0; i < params->items.size(); ++i) {
      const Node& pn = params->items[i];
      std::string path = indexPath("parameters", i);
      if (!expectMap(pn, path, d)) continue;
      Fields pf(pn, path, d, {"name", "type", "default", "required", "values", "description"});
      ParamInfo info;
      const Node* name = pf.require("name", pn.pos);
      if (!name) continue;
      auto nameText = getString(name, childPath(path, "name"), d);
      if (!nameText) continue;
      info.decl.name = *nameText;
      info.namePos = name->pos;
      if (!isIdentifier(*nameText)) {
        d.error(name->pos, childPath(path, "name"),
                "parameter name \"" + *nameText + "\" is not valid: use letters, digits and '_', not starting with a digit");
      }
      if (auto it = seen.find(*nameText); it != seen.end()) {
        d.error(name->pos, childPath(path, "name"),
                "duplicate parameter \"" + *nameText + "\" (first on line " + std::to_string(it->second) + ")");
        continue;
      }
      seen[*nameText] = name->pos.line;
      if (const Node* type = pf.get("type")) {
        if (auto tn = getEnumField(type, childPath(path, "type"), d, kTypeNames)) info.decl.type = *typeFromName(*tn);
      }
      if (const Node* values = pf.get("values")) {
        if (info.decl.type != ParameterType::kEnum) {
          d.error(pf.entry("values")->keyPos, childPath(path, "values"),
                  "values is only for parameters of type enum");
        } else if (auto vs = getStringList(values, childPath(path, "values"), d)) {
          std::set<std::string> uniq;
          for (size_t k = 0; k < vs->size(); ++k) {
            if (!uniq.insert((*vs)[k]).second)
              d.error(values->items[k].pos, indexPath(childPath(path, "values"), k),
                      "duplicate value \"" + (*vs)[k] + "\"");
          }
          info.decl.values = *vs;
        }
      }
      if (info.decl.type == ParameterType::kEnum && info.decl.values.empty() && !pf.get("values")) {
        d.error(pn.pos, childPath(path, "values"),
                "parameter \"" + info.decl.name + "\" of type enum needs values: [...]");
      }
      if (const Node* req = pf.get("required")) {
        if (expectScalar(*req, childPath(path, "required"), d)) {
          if (auto b = boolFromText(req->text); b && !req->quoted)
            info.decl.required = *b;
          else
            d.error(req->pos, childPath(path, "required"), "required must be true or false, got " + describe(*req));
        }
      }
      if (const MapEntry* def = pf.entry("default"); def) {
        if (def->value.isNull()) {
          d.error(def->keyPos, childPath(path, "default"), "default is empty: give a value or leave it out");
        } else if (expectScalar(def->value, childPath(path, "default"), d)) {
          info.decl.hasDefault = true;
          info.decl.defaultValue = def->value.text;
          info.defaultPos = def->value.pos;
          std::string why = checkParameterValue(info.decl, def->value.text);
          if (!why.empty() && !(info.decl.type == ParameterType::kEnum && info.decl.values.empty())) {
            info.defaultValid = false;
            d.error(def->value.pos, childPath(path, "default"),
                    "default of parameter \"" + info.decl.name + "\": " + why);
          }
        }
      }
      if (info.decl.required && info.decl.hasDefault) {
        d.warning(pf.entry("required")->keyPos, childPath(path, "required"),
                  "parameter \"" + info.decl.name + "\" has a default, so required has no effect");
      }
      if (auto s = getString(pf.get("description"), childPath(path, "description"), d)) info.decl.description = *s;
      data->params.push_back(info);
      t.parameters.push_back(info.decl);
    }
  }

  if (const Node* spec = top.require("spec", root.pos)) {
    data->specKeyPos = root.entry("spec")->keyPos;
    if (expectMap(*spec, "spec", d)) data->spec = *spec;
  }

  if (t.name.empty()) return std::nullopt;
  data->structurallyOk = d.errors() == before;
  t.data = data;
  return t;
}

// ---------------------------------------------------------------- spec

void readSpec(const Node& spec, const std::string& path, const std::vector<std::string>& knownProviders,
              Diags& d, LabSpec* out, const Pos* anchorPos) {
  Fields f(spec, path, d,
           {"provider", "image", "command", "env", "workdir", "user", "resources", "ports", "access", "readiness",
            "lifetime", "network", "options", "labels"});
  auto P = [&](std::string_view k) { return childPath(path, k); };
  const Pos& anchor = anchorPos && anchorPos->line > 0 ? *anchorPos : spec.pos;

  if (const Node* prov = f.require("provider", anchor)) {
    if (auto s = getString(prov, P("provider"), d)) {
      out->provider = *s;
      if (!prov->unresolved && !knownProviders.empty() &&
          std::find(knownProviders.begin(), knownProviders.end(), *s) == knownProviders.end()) {
        d.error(prov->pos, P("provider"),
                "unknown provider \"" + *s + "\"" + didYouMean(*s, knownProviders) + "; known providers: " +
                    joinNames(knownProviders) + viaSuffix(*prov));
      }
    }
  }
  if (auto s = getString(f.get("image"), P("image"), d)) out->image = *s;
  if (out->image.empty() && !f.get("image") &&
      std::find(kImageProviders.begin(), kImageProviders.end(), out->provider) != kImageProviders.end()) {
    d.error(anchor, P("image"), "missing required field \"image\" in " + path + " (provider " + out->provider + " needs one)");
  }
  if (auto l = getStringList(f.get("command"), P("command"), d)) out->command = *l;
  if (auto m = getStringMap(f.get("env"), P("env"), d)) {
    for (const auto& e : f.get("env")->entries) {
      if (!isEnvName(e.key))
        d.error(e.keyPos, childPath(P("env"), e.key),
                "environment variable name \"" + e.key + "\" is not valid: use letters, digits and '_'");
    }
    out->env = *m;
  }
  if (const Node* wd = f.get("workdir")) {
    if (auto s = getString(wd, P("workdir"), d)) {
      if (!wd->unresolved && (s->empty() || (*s)[0] != '/'))
        d.error(wd->pos, P("workdir"), "workdir must be an absolute path, got \"" + *s + "\"" + viaSuffix(*wd));
      out->workdir = *s;
    }
  }
  if (auto s = getString(f.get("user"), P("user"), d)) out->user = *s;

  if (const Node* res = f.get("resources"); res && expectMap(*res, P("resources"), d)) {
    std::string rp = P("resources");
    Fields r(*res, rp, d, {"cpus", "memory", "pids", "disk"});
    auto positive = [&](const Node* n, std::optional<int64_t> v, const std::string& p) -> int64_t {
      if (!v) return 0;
      if (*v <= 0) {
        d.error(n->pos, p, lastSegment(p) + " must be greater than 0 (leave it out for no cap)" + viaSuffix(*n));
        return 0;
      }
      return *v;
    };
    if (const Node* n = r.get("cpus")) out->resources.cpuMillis = positive(n, getCpusField(n, childPath(rp, "cpus"), d), childPath(rp, "cpus"));
    if (const Node* n = r.get("memory")) out->resources.memoryBytes = positive(n, getSizeField(n, childPath(rp, "memory"), d), childPath(rp, "memory"));
    if (const Node* n = r.get("pids")) out->resources.pids = positive(n, getInt(n, childPath(rp, "pids"), d, 0, 4194304), childPath(rp, "pids"));
    if (const Node* n = r.get("disk")) out->resources.diskBytes = positive(n, getSizeField(n, childPath(rp, "disk"), d), childPath(rp, "disk"));
  }

  if (const Node* ports = f.get("ports"); ports && expectSeq(*ports, P("ports"), d)) {
    std::map<std::string, int> names;
    std::map<int64_t, int> numbers;
    for (size_t i = 0; i < ports->items.size(); ++i) {
      const Node& pn = ports->items[i];
      std::string pp = indexPath(P("ports"), i);
      if (!expectMap(pn, pp, d)) continue;
      Fields pf(pn, pp, d, {"name", "port", "protocol"});
      PortSpec ps;
      if (const Node* name = pf.require("name", pn.pos)) {
        if (auto s = getString(name, childPath(pp, "name"), d)) {
          ps.name = *s;
          if (!name->unresolved && !isDnsLabel(*s))
            d.error(name->pos, childPath(pp, "name"),
                    "port name \"" + *s + "\" is not valid: use lower-case letters, digits and '-'");
          if (auto it = names.find(*s); it != names.end())
            d.error(name->pos, childPath(pp, "name"),
                    "duplicate port name \"" + *s + "\" (first on line " + std::to_string(it->second) + ")");
          else
            names[*s] = name->pos.line;
        }
      }
      if (const Node* port = pf.require("port", pn.pos)) {
        if (auto v = getInt(port, childPath(pp, "port"), d, 1, 65535)) {
          ps.port = static_cast<int>(*v);
          if (auto it = numbers.find(*v); it != numbers.end())
            d.error(port->pos, childPath(pp, "port"),
                    "duplicate port " + std::to_string(*v) + " (first on line " + std::to_string(it->second) + ")");
          else
            numbers[*v] = port->pos.line;
        }
      }
      if (auto s = getEnumField(pf.get("protocol"), childPath(pp, "protocol"), d, {"tcp", "http", "https"}))
        ps.protocol = *s;
      out->ports.push_back(ps);
    }
  }

  if (const Node* acc = f.get("access"); acc && expectMap(*acc, P("access"), d)) {
    std::string ap = P("access");
    Fields a(*acc, ap, d, {"user", "credentials"});
    if (const Node* u = a.get("user")) {
      if (auto s = getString(u, childPath(ap, "user"), d)) {
        if (!u->unresolved && !isUnixUser(*s))
          d.error(u->pos, childPath(ap, "user"),
                  "user \"" + *s + "\" is not a valid user name: use lower-case letters, digits, '_' and '-' (at most 32)" +
                      viaSuffix(*u));
        out->access.user = *s;
      }
    }
    if (const Node* c = a.get("credentials")) {
      if (auto l = getStringList(c, childPath(ap, "credentials"), d)) {
        const std::vector<std::string> kinds = {"password", "ssh-key"};
        out->access.password = out->access.sshKey = false;
        for (size_t i = 0; i < l->size(); ++i) {
          const std::string& k = (*l)[i];
          if (k == "password") {
            out->access.password = true;
          } else if (k == "ssh-key") {
            out->access.sshKey = true;
          } else {
            d.error(c->items[i].pos, indexPath(childPath(ap, "credentials"), i),
                    "unknown credential kind \"" + k + "\"" + didYouMean(k, kinds) + "; use password and/or ssh-key");
          }
        }
        if (l->empty())
          d.error(c->pos, childPath(ap, "credentials"), "credentials must list password, ssh-key or both");
      }
    }
  }

  if (const Node* rd = f.get("readiness"); rd && expectMap(*rd, P("readiness"), d)) {
    std::string rp = P("readiness");
    Fields r(*rd, rp, d, {"tcp", "exec", "timeout"});
    const Node* tcp = r.get("tcp");
    const Node* ex = r.get("exec");
    if (tcp && ex) d.error(r.entry("exec")->keyPos, childPath(rp, "exec"), "readiness takes tcp or exec, not both");
    if (tcp) {
      if (auto s = getString(tcp, childPath(rp, "tcp"), d)) {
        out->readiness.tcpPort = *s;
        if (!tcp->unresolved) {
          std::vector<std::string> portNames;
          for (const auto& p : out->ports) portNames.push_back(p.name);
          if (std::find(portNames.begin(), portNames.end(), *s) == portNames.end()) {
            d.error(tcp->pos, childPath(rp, "tcp"),
                    "readiness port \"" + *s + "\" is not one of the ports" + didYouMean(*s, portNames) +
                        (portNames.empty() ? "; spec.ports is empty" : "; ports: " + joinNames(portNames)) +
                        viaSuffix(*tcp));
          }
        }
      }
    }
    if (ex) {
      if (auto l = getStringList(ex, childPath(rp, "exec"), d)) {
        if (l->empty()) d.error(ex->pos, childPath(rp, "exec"), "exec must be a non-empty command, e.g. [test, -f, /ready]");
        out->readiness.exec = *l;
      }
    }
    if (const Node* to = r.get("timeout")) {
      if (auto v = getDurationField(to, childPath(rp, "timeout"), d)) {
        if (v->count() <= 0)
          d.error(to->pos, childPath(rp, "timeout"), "timeout must be longer than 0s");
        else
          out->readiness.timeout = *v;
      }
    }
  }

  if (const Node* lt = f.get("lifetime"); lt && expectMap(*lt, P("lifetime"), d)) {
    std::string lp = P("lifetime");
    Fields l(*lt, lp, d, {"idleTimeout", "maxDuration"});
    if (auto v = getDurationField(l.get("idleTimeout"), childPath(lp, "idleTimeout"), d)) out->lifetime.idleTimeout = *v;
    if (auto v = getDurationField(l.get("maxDuration"), childPath(lp, "maxDuration"), d)) out->lifetime.maxDuration = *v;
  }

  if (auto s = getEnumField(f.get("network"), P("network"), d, {"none", "isolated", "cohort", "host"}))
    out->network = *networkModeFromName(*s);
  if (auto m = getStringMap(f.get("options"), P("options"), d)) out->providerOptions = *m;
  out->labels = readLabels(f.get("labels"), P("labels"), d);
}

// ---------------------------------------------------------------- extends

Node mergeNodes(const Node& base, const Node& over) {
  if (!base.isMap() || !over.isMap()) return over;
  Node out = base;
  out.pos = over.pos;
  for (const auto& e : over.entries) {
    auto it = std::find_if(out.entries.begin(), out.entries.end(), [&](const MapEntry& x) { return x.key == e.key; });
    if (e.value.isNull()) {
      if (it != out.entries.end()) out.entries.erase(it);
      continue;
    }
    if (it == out.entries.end())
      out.entries.push_back(e);
    else {
      it->value = mergeNodes(it->value, e.value);
      it->keyPos = e.keyPos;
    }
  }
  return out;
}

std::optional<ResolvedTemplate> resolveTemplate(const detail::Catalog& catalog, const std::string& name, Diags& d) {
  const detail::Catalog::Entry* start = catalog.find(name);
  if (!start) return std::nullopt;
  std::vector<const detail::Catalog::Entry*> chain{start};
  while (!chain.back()->doc.extends.empty()) {
    const TemplateDoc& cur = chain.back()->doc;
    const detail::Catalog::Entry* base = catalog.find(cur.extends);
    if (cur.extends == cur.name) return std::nullopt;  // reported when parsed
    if (!base) {
      std::vector<std::string> known = catalog.names();
      d.error(cur.data->extendsPos, "extends",
              "unknown template \"" + cur.extends + "\" in extends" + didYouMean(cur.extends, known) +
                  (known.empty() ? "" : "; known templates: " + joinNames(known)));
      return std::nullopt;
    }
    auto seen = std::find(chain.begin(), chain.end(), base);
    if (seen != chain.end()) {
      // Report the cycle once, from its smallest name, whichever template led here.
      std::vector<const detail::Catalog::Entry*> cycle(seen, chain.end());
      auto first = std::min_element(cycle.begin(), cycle.end(),
                                    [](auto* a, auto* b) { return a->doc.name < b->doc.name; });
      std::rotate(cycle.begin(), first, cycle.end());
      std::string text;
      for (auto* e : cycle) text += e->doc.name + " → ";
      text += cycle.front()->doc.name;
      d.error(cycle.front()->doc.data->extendsPos, "extends", "extends cycle: " + text);
      return std::nullopt;
    }
    chain.push_back(base);
  }
  ResolvedTemplate r;
  r.name = name;
  r.description = start->doc.description;
  r.specKeyPos = start->doc.data->specKeyPos;
  for (auto* e : chain) r.chain.push_back(e->doc.name);
  // From the root base down to the template itself: later (child) wins.
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const auto& data = *(*it)->doc.data;
    r.spec = it == chain.rbegin() ? data.spec : mergeNodes(r.spec, data.spec);
    for (const auto& p : data.params) {
      auto found = std::find_if(r.params.begin(), r.params.end(),
                                [&](const ParamInfo& x) { return x.decl.name == p.decl.name; });
      if (found == r.params.end())
        r.params.push_back(p);
      else
        *found = p;
    }
    for (const auto& [k, v] : (*it)->doc.labels) r.labels[k] = v;
  }
  return r;
}

// ---------------------------------------------------------------- substitution

namespace {

Node substituteNode(const Node& n, const std::string& path, const std::vector<ParamInfo>& params,
                    const std::map<std::string, ParamValue>& values, Diags& d) {
  if (n.isMap()) {
    Node out = n;
    for (auto& e : out.entries) e.value = substituteNode(e.value, childPath(path, e.key), params, values, d);
    return out;
  }
  if (n.isSeq()) {
    Node out = n;
    for (size_t i = 0; i < out.items.size(); ++i)
      out.items[i] = substituteNode(out.items[i], indexPath(path, i), params, values, d);
    return out;
  }
  if (!n.isScalar() || n.text.find('$') == std::string::npos) return n;
  Node out = n;
  std::string result;
  std::vector<std::string> notes;
  std::map<std::string, int> occurrences;
  const std::string& t = n.text;
  std::vector<std::string> declared;
  for (const auto& p : params) declared.push_back(p.decl.name);
  size_t i = 0;
  while (i < t.size()) {
    if (t.compare(i, 3, "$${") == 0) {
      result += "${";
      occurrences["${"]++;
      i += 3;
      continue;
    }
    if (t.compare(i, 2, "${") != 0) {
      result += t[i++];
      continue;
    }
    size_t close = t.find('}', i + 2);
    int occ = occurrences["${"]++;
    if (close == std::string::npos) {
      d.error(posInScalar(n, "${", occ), path, "unterminated \"${\" (write $${ for a literal ${)");
      out.unresolved = true;
      result += t.substr(i);
      break;
    }
    std::string name = t.substr(i + 2, close - i - 2);
    if (!isIdentifier(name)) {
      d.error(posInScalar(n, "${", occ), path,
              "\"${" + name + "}\" is not a parameter reference: names are letters, digits and '_' (write $${ for a literal ${)");
      out.unresolved = true;
      result += t.substr(i, close + 1 - i);
      i = close + 1;
      continue;
    }
    auto decl = std::find(declared.begin(), declared.end(), name);
    if (decl == declared.end()) {
      d.error(posInScalar(n, "${", occ), path,
              "unknown parameter \"" + name + "\"" + didYouMean(name, declared) +
                  (declared.empty() ? "; this template declares no parameters" : ""));
      out.unresolved = true;
    } else if (auto v = values.find(name); v != values.end() && v->second.valid) {
      result += v->second.value;
      notes.push_back("with ${" + name + "} = \"" + v->second.value + "\"");
    } else {
      out.unresolved = true;
      result += t.substr(i, close + 1 - i);
    }
    i = close + 1;
  }
  out.text = result;
  out.via = joinNames(notes);
  return out;
}

}  // namespace

Node substitute(const Node& spec, const std::string& path, const std::vector<ParamInfo>& params,
                const std::map<std::string, ParamValue>& values, Diags& d) {
  return substituteNode(spec, path, params, values, d);
}

}  // namespace darasa::templates

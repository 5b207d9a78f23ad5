// Rendering: a cohort's parameters checked against its resolved template,
// substituted, the spec read into a LabSpec, frozen as canonical JSON with a
// SHA-256 hash, and one LabSpec per trainee built from that snapshot.
#include <openssl/evp.h>

#include <algorithm>

#include "internal.h"
#include "templates/units.h"

namespace darasa::templates {

std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out;
}

nlohmann::json snapshotJson(const ResolvedTemplate& t, const Node& substitutedSpec,
                            const std::map<std::string, ParamValue>& values) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [k, v] : values)
    if (v.valid) params[k] = v.value;
  nlohmann::json md = {{"name", t.name}, {"labels", t.labels}};
  if (!t.description.empty()) md["description"] = t.description;
  return {{"apiVersion", kApiVersion},
          {"kind", "LabTemplate"},
          {"metadata", std::move(md)},
          {"parameters", std::move(params)},
          {"spec", nodeToJson(substitutedSpec)}};
}

std::vector<LabSpec> labsFor(const CohortSpec& cohort, const LabSpec& base, const TemplateSnapshot& snap,
                             int64_t generation) {
  std::vector<LabSpec> labs;
  labs.reserve(cohort.trainees.size());
  for (const auto& t : cohort.trainees) {
    LabSpec l = base;
    l.labId = cohort.name + "." + t.id;
    l.cohort = cohort.name;
    l.trainee = t.id;
    l.generation = generation;
    l.templateName = snap.name;
    l.templateHash = snap.hash;
    l.labels[kLabelLab] = l.labId;
    l.labels[kLabelCohort] = cohort.name;
    l.labels[kLabelTrainee] = t.id;
    l.labels[kLabelGeneration] = std::to_string(generation);
    l.labels[kLabelTemplateHash] = snap.hash;
    labs.push_back(std::move(l));
  }
  return labs;
}

Result<std::vector<LabSpec>> labsFromSnapshot(const CohortSpec& cohort, const TemplateSnapshot& snapshot,
                                              int64_t generation) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(snapshot.canonicalJson);
  } catch (const nlohmann::json::exception& e) {
    return invalidError("template snapshot " + snapshot.name + " is not JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("spec") || !j["spec"].is_object())
    return invalidError("template snapshot " + snapshot.name + " has no spec");
  std::vector<Diagnostic> problems;
  Diags d(&problems);
  Pos pos;
  pos.src = makeSource("snapshot:" + snapshot.name, "", "");
  LabSpec base;
  readSpec(jsonToNode(j["spec"], pos), "spec", {}, d, &base);
  if (d.errors() > 0) return invalidError("template snapshot " + snapshot.name + ": " + problems.front().message);
  if (j.contains("metadata") && j["metadata"].is_object() && j["metadata"].contains("labels")) {
    try {
      for (const auto& [k, v] : j["metadata"]["labels"].items())
        if (v.is_string()) base.labels.emplace(k, v.get<std::string>());
    } catch (const nlohmann::json::exception&) {
    }
  }
  return labsFor(cohort, base, snapshot, generation);
}

// ---------------------------------------------------------------- checking

void checkTemplate(const detail::Catalog& catalog, const std::string& name, Diags& d) {
  auto resolved = resolveTemplate(catalog, name, d);
  if (!resolved) return;
  std::map<std::string, ParamValue> values;
  for (const auto& p : resolved->params)
    if (p.decl.hasDefault) values[p.decl.name] = {normalizeParameterValue(p.decl, p.decl.defaultValue), p.defaultValid, "default"};
  const int before = d.errors();
  Node spec = substitute(resolved->spec, "spec", resolved->params, values, d);
  LabSpec scratch;
  if (spec.isMap()) readSpec(spec, "spec", catalog.knownProviders, d, &scratch, &resolved->specKeyPos);
  // The provider is asked about a lab of this template when the template
  // alone says what it is: no errors, every parameter has a default.
  bool complete = std::all_of(resolved->params.begin(), resolved->params.end(),
                              [](const ParamInfo& p) { return p.decl.hasDefault; });
  if (spec.isMap() && complete && d.errors() == before) {
    scratch.labId = "validate";  // a lab id is needed for the spec to be a lab's
    askProvider(catalog, spec, resolved->specKeyPos, scratch, d);
  }
}

bool renderCohortInto(const detail::Catalog& catalog, const CohortDoc& cohort, int64_t generation, Diags& d,
                      RenderedCohort* out, std::vector<std::string>* chain) {
  const int before = d.errors();
  const detail::CohortData& data = *cohort.data;
  const CohortSpec& cs = cohort.spec;
  if (cs.templateName.empty()) return false;  // reported when parsed
  const detail::Catalog::Entry* entry = catalog.find(cs.templateName);
  if (!entry) {
    std::vector<std::string> known = catalog.names();
    d.error(data.templatePos, "spec.template",
            "unknown template \"" + cs.templateName + "\"" + didYouMean(cs.templateName, known) +
                (known.empty() ? "; no templates are known (give the template's file too, or apply it first)"
                               : "; known templates: " + joinNames(known)));
    return false;
  }
  auto resolved = resolveTemplate(catalog, cs.templateName, d);
  if (!resolved) return false;
  if (chain) *chain = resolved->chain;
  bool templatesOk = true;
  for (const auto& name : resolved->chain) {
    const auto* e = catalog.find(name);
    if (!e) continue;
    if (e->doc.origin != TemplateOrigin::kFile)
      for (const auto& p : e->problems) d.append(p);
    // Its own problems were reported with its file; a broken template renders nothing.
    if (!e->doc.data->structurallyOk) templatesOk = false;
  }

  std::map<std::string, ParamValue> values;
  std::vector<std::string> declared;
  for (const auto& p : resolved->params) declared.push_back(p.decl.name);
  if (data.parameters) {
    for (const auto& e : data.parameters->entries) {
      std::string path = childPath("spec.parameters", e.key);
      auto decl = std::find_if(resolved->params.begin(), resolved->params.end(),
                               [&](const ParamInfo& p) { return p.decl.name == e.key; });
      if (decl == resolved->params.end()) {
        d.error(e.keyPos, path,
                "template \"" + cs.templateName + "\" has no parameter \"" + e.key + "\"" + didYouMean(e.key, declared) +
                    (declared.empty() ? "; it declares none" : "; its parameters: " + joinNames(declared)));
        continue;
      }
      if (!e.value.isScalar()) continue;  // reported when parsed
      std::string why = checkParameterValue(decl->decl, e.value.text);
      if (!why.empty()) {
        d.error(e.value.pos, path, "parameter \"" + e.key + "\": " + why);
        values[e.key] = {e.value.text, false, "cohort"};
      } else {
        values[e.key] = {normalizeParameterValue(decl->decl, e.value.text), true, "cohort"};
      }
    }
  }
  for (const auto& p : resolved->params) {
    if (values.count(p.decl.name)) continue;
    if (p.decl.hasDefault) {
      values[p.decl.name] = {normalizeParameterValue(p.decl, p.decl.defaultValue), p.defaultValid, "default"};
    } else if (p.decl.required) {
      const Pos& at = data.parameters ? data.parametersKeyPos : data.specPos;
      d.error(at, data.parameters ? "spec.parameters" : "spec",
              "missing required parameter \"" + p.decl.name + "\" of template \"" + cs.templateName + "\"" +
                  (p.decl.description.empty() ? "" : " (" + p.decl.description + ")"));
    } else {
      values[p.decl.name] = {"", true, "empty"};  // optional, no default: substitutes as ""
    }
  }

  Node spec = substitute(resolved->spec, "spec", resolved->params, values, d);
  LabSpec base;
  if (spec.isMap()) readSpec(spec, "spec", catalog.knownProviders, d, &base, &resolved->specKeyPos);

  // A trainee has one lab: it cannot ask for more than the trainee may use.
  if (data.quota) {
    const Node* pt = data.quota->get("perTrainee");
    auto over = [&](const char* key, int64_t want, int64_t cap, const std::string& wantText, const std::string& capText) {
      if (cap <= 0 || want <= cap || !pt) return;
      const Node* n = pt->get(key);
      d.error(n ? n->pos : data.quota->pos, std::string("spec.quota.perTrainee.") + key,
              "template \"" + cs.templateName + "\" asks for " + key + " " + wantText + " per lab, more than quota.perTrainee." +
                  key + " " + capText);
    };
    over("cpus", base.resources.cpuMillis, cs.quota.perTrainee.cpuMillis, formatCpus(base.resources.cpuMillis),
         formatCpus(cs.quota.perTrainee.cpuMillis));
    over("memory", base.resources.memoryBytes, cs.quota.perTrainee.memoryBytes, formatSize(base.resources.memoryBytes),
         formatSize(cs.quota.perTrainee.memoryBytes));
    over("disk", base.resources.diskBytes, cs.quota.perTrainee.diskBytes, formatSize(base.resources.diskBytes),
         formatSize(cs.quota.perTrainee.diskBytes));
  }

  if (d.errors() == before && cohort.data->structurallyOk && templatesOk && spec.isMap()) {
    LabSpec asked = base;
    asked.labId = cs.name + ".validate";
    askProvider(catalog, spec, resolved->specKeyPos, asked, d);
  }
  if (d.errors() != before || !cohort.data->structurallyOk || !templatesOk) return false;
  if (!out) return true;

  out->cohort = cs;
  out->cohort.parameters.clear();
  for (const auto& [k, v] : values) out->cohort.parameters[k] = v.value;
  nlohmann::json snap = snapshotJson(*resolved, spec, values);
  out->snapshot.name = cs.templateName;
  try {
    out->snapshot.canonicalJson = snap.dump();
  } catch (const nlohmann::json::exception& e) {
    d.error(data.templatePos, "spec.template", std::string("cannot freeze the template: ") + e.what());
    return false;
  }
  out->snapshot.hash = "sha256:" + sha256Hex(out->snapshot.canonicalJson);
  auto labs = labsFromSnapshot(out->cohort, out->snapshot, generation);
  if (!labs) {
    d.error(data.templatePos, "spec.template", labs.status().message());
    return false;
  }
  out->labs = std::move(labs).value();
  return true;
}

Result<RenderedCohort> renderCohort(const RenderInput& input, std::vector<Diagnostic>* problems) {
  if (!input.bundle || !input.bundle->catalog) return invalidError("renderCohort: no bundle");
  const CohortDoc* c = input.bundle->findCohort(input.cohort);
  if (!c) {
    std::vector<std::string> names;
    for (const auto& x : input.bundle->cohorts) names.push_back(x.spec.name);
    return notFoundError("no cohort \"" + input.cohort + "\" in the given files" +
                         (names.empty() ? "" : "; cohorts: " + joinNames(names)));
  }
  std::vector<Diagnostic> local;
  Diags d(&local);
  RenderedCohort out;
  bool ok = renderCohortInto(*input.bundle->catalog, *c, input.generation, d, &out, nullptr);
  if (problems) problems->insert(problems->end(), local.begin(), local.end());
  if (!ok) {
    int n = countErrors(local);
    if (n == 0) return invalidError("cohort " + input.cohort + " is not valid (see the diagnostics of its files)");
    return invalidError("cohort " + input.cohort + " has " + std::to_string(n) + (n == 1 ? " error" : " errors"));
  }
  return out;
}

}  // namespace darasa::templates

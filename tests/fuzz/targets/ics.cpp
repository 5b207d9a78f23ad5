// An iCalendar file through both places darasa reads one: validation of a
// cohort whose `schedule: {ical: FILE}` names it (libical parse, events,
// RRULEs, located errors), and the expansion the daemon runs on the stored
// text every tick (expandSchedule, then the step function). Property: never
// a crash; no occurrence outside the years 1970-2200 (a wrapped time); what
// validation accepts, expansion accepts too.
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "fuzz_target.h"
#include "provisioner/schedule.h"
#include "templates/templates.h"

namespace t = darasa::templates;

DARASA_FUZZ_TARGET(ics) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const std::string path = "/tmp/darasa-fuzz-ics-" + std::to_string(::getpid()) + ".ics";
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << text; }
  const std::string cohort = R"(apiVersion: darasa/v1
kind: LabTemplate
metadata: {name: shell}
spec: {provider: local, ports: [{name: ssh, port: 22}]}
---
apiVersion: darasa/v1
kind: Cohort
metadata: {name: fuzz}
spec:
  template: shell
  timezone: Africa/Nairobi
  trainees: [{id: t01, name: A, email: a@example.org}]
  schedule: {ical: )" + path + "}\n";
  t::Bundle bundle = t::loadString("/nonexistent-darasa-fuzz/cohort.yaml", cohort, {});
  std::remove(path.c_str());

  darasa::CohortSpec spec;
  spec.name = "fuzz";
  spec.timezone = "Africa/Nairobi";
  spec.schedule.icalText = text;
  auto occurrences = darasa::expandSchedule(spec);
  if (occurrences) {
    for (const auto& o : *occurrences) {
      // Times that wrapped around (an overflow) show as years nobody wrote.
      int year = std::atoi(o.localStart.c_str());
      DARASA_FUZZ_CHECK(o.start < o.end && year >= 1970 && year <= 2200, o.localStart + " to " + o.localEnd);
    }
    (void)darasa::scheduleSteps(*occurrences, spec);
  }
  if (bundle.ok() && !bundle.cohorts.empty()) {
    spec = bundle.cohorts.front().spec;
    auto again = darasa::expandSchedule(spec);
    DARASA_FUZZ_CHECK(again.isOk(), again.status().message());
  }
}

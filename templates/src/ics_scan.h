// A line-level reading of an .ics file, for what libical does not say:
// where a component that is never ended (or ended out of order) begins —
// libical only finds that the whole text does not parse — and whether the
// date and date-time values are well formed (libical reads DTSTART:2026011x
// as 2026-01-01 without a word). Located diagnostics; pure.
#pragma once

#include <string>
#include <vector>

#include "internal.h"

namespace darasa::templates {

struct IcsEventLines {
  Pos begin;                 // its BEGIN:VEVENT line
  bool hasStart = false;     // a DTSTART line, well formed or not
  bool badStart = false;     // a DTSTART whose value is not a date or date-time
};

struct IcsScan {
  bool structureOk = true;   // every BEGIN has its END, in order, inside a VCALENDAR
  bool badDates = false;     // a malformed date or date-time was reported
  std::vector<std::string> reportedValues;  // those values (libical's complaints about them repeat ours)
  std::vector<IcsEventLines> events;  // the VEVENTs, in file order
};

// Reports unterminated, crossed and stray BEGIN/END lines at the line that
// needs fixing, and malformed values of DTSTART, DTEND, DUE, RECURRENCE-ID,
// EXDATE and RDATE at their line.
IcsScan scanIcs(const SourcePtr& src, Diags& d);

}  // namespace darasa::templates

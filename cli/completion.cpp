#include "completion.h"

#include <functional>
#include <sstream>

namespace darasa::cli {

namespace {

// The value kinds as the scripts spell them: "cohort", "file", "dir",
// "any", "choice=a,b,c"; "" for a flag.
std::string kindWord(const OptionDoc& o) {
  switch (o.kind) {
    case ValueKind::kNone: return "";
    case ValueKind::kCohort: return "cohort";
    case ValueKind::kFile: return "file";
    case ValueKind::kDir: return "dir";
    case ValueKind::kAny: return "any";
    case ValueKind::kChoice: {
      std::string out = "choice=";
      for (size_t i = 0; i < o.choices.size(); ++i) out += (i ? "," : "") + o.choices[i];
      return out;
    }
  }
  return "any";
}

// A word for a double-quoted bash string (names and choices are plain words,
// but nothing here may break the script).
std::string bashQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
    out += c;
  }
  return out + "\"";
}

void forEachCommand(const CommandDoc& c, const std::function<void(const CommandDoc&)>& f) {
  f(c);
  for (const auto& s : c.subcommands) forEachCommand(s, f);
}

// Text inside a single-quoted zsh word.
std::string zshSingle(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out;
}

// An _arguments description ("[...]") or message: brackets and colons escaped.
std::string zshDescription(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, s.find('\n'))) {
    if (c == '[' || c == ']' || c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return zshSingle(out);
}

std::string zshAction(const OptionDoc& o) {
  switch (o.kind) {
    case ValueKind::kChoice: {
      std::string out = "(";
      for (size_t i = 0; i < o.choices.size(); ++i) out += (i ? " " : "") + o.choices[i];
      return out + ")";
    }
    case ValueKind::kCohort: return "_darasa_cohorts";
    case ValueKind::kDir: return "_files -/";
    default: return "_files";
  }
}

std::string zshFunction(const CommandDoc& c) {
  std::string out = "_darasa";
  for (const auto& p : c.path) {
    out += "_";
    for (char ch : p) out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  }
  return out;
}

// One _arguments spec per option or positional.
std::string zshSpec(const OptionDoc& o) {
  std::string desc = zshDescription(o.description);
  std::string value = o.kind == ValueKind::kNone
                          ? ""
                          : ":" + zshDescription(o.valueName.empty() ? "value" : o.valueName) + ":" + zshSingle(zshAction(o));
  if (o.positional()) {
    std::string name = zshDescription(o.positionalName);
    std::string action = zshSingle(zshAction(o));
    if (o.repeatable) return "'*:" + name + ":" + action + "'";
    return std::string("'") + (o.required ? ":" : "::") + name + ":" + action + "'";
  }
  std::vector<std::string> names;
  for (const auto& s : o.shortNames) names.push_back("-" + s + (o.kind == ValueKind::kNone ? "" : "+"));
  for (const auto& l : o.longNames) names.push_back("--" + l + (o.kind == ValueKind::kNone ? "" : "="));
  std::string exclusive;
  if (!o.repeatable) {
    exclusive = "(";
    for (const auto& s : o.shortNames) exclusive += (exclusive.size() > 1 ? " -" : "-") + s;
    for (const auto& l : o.longNames) exclusive += (exclusive.size() > 1 ? " --" : "--") + l;
    exclusive += ")";
  }
  std::string prefix = (o.repeatable ? "'*'" : "'" + exclusive + "'");
  std::string spec = "'[" + desc + "]" + value + "'";
  if (names.size() == 1) return prefix + names[0] + spec;
  std::string brace = "{";
  for (size_t i = 0; i < names.size(); ++i) brace += (i ? "," : "") + names[i];
  return prefix + brace + "}" + spec;
}

}  // namespace

std::string bashCompletion(const CommandDoc& root, const std::string& version) {
  std::ostringstream subs, opts, vals, pos;
  forEachCommand(root, [&](const CommandDoc& c) {
    std::string path = c.fullName();  // the tables' key: "darasa", "darasa token"
    std::string subList, optList, posList;
    for (const auto& s : c.subcommands) subList += (subList.empty() ? "" : " ") + s.path.back();
    for (const auto& o : c.options) {
      if (o.positional()) {
        posList += (posList.empty() ? "" : " ") + kindWord(o) + (o.repeatable ? "..." : "");
        continue;
      }
      for (const auto& s : o.shortNames) {
        optList += (optList.empty() ? "-" : " -") + s;
        if (o.kind != ValueKind::kNone) vals << "  [" << bashQuote(path + "|-" + s) << "]=" << bashQuote(kindWord(o)) << "\n";
      }
      for (const auto& l : o.longNames) {
        optList += (optList.empty() ? "--" : " --") + l;
        if (o.kind != ValueKind::kNone) vals << "  [" << bashQuote(path + "|--" + l) << "]=" << bashQuote(kindWord(o)) << "\n";
      }
    }
    if (!subList.empty()) subs << "  [" << bashQuote(path) << "]=" << bashQuote(subList) << "\n";
    opts << "  [" << bashQuote(path) << "]=" << bashQuote(optList) << "\n";
    if (!posList.empty()) pos << "  [" << bashQuote(path) << "]=" << bashQuote(posList) << "\n";
  });

  std::ostringstream out;
  out << "# bash completion for darasa " << version << ", generated from its command line by\n"
         "# `darasa completion bash`; do not edit. Cohort names come from\n"
         "# `darasa __complete cohorts` with the --state/--server of the line.\n"
         "# Tables: subcommands, options, option values and positionals per command path.\n";
  out << "declare -gA _darasa_subs=(\n" << subs.str() << ")\n";
  out << "declare -gA _darasa_opts=(\n" << opts.str() << ")\n";
  out << "declare -gA _darasa_vals=(\n" << vals.str() << ")\n";
  out << "declare -gA _darasa_pos=(\n" << pos.str() << ")\n";
  out << R"BASH(
# The kind of value option $2 of command path $1 takes ("" for a flag);
# global options (darasa's own) apply after any command.
_darasa_value_kind() {
  local k=${_darasa_vals["$1|$2"]}
  [[ -z $k ]] && k=${_darasa_vals["darasa|$2"]}
  printf '%s' "$k"
}

# Fills COMPREPLY with the values of kind $1 that start with $2.
_darasa_complete_kind() {
  local kind=${1%...} cur=$2 IFS=$'\n'
  case $kind in
    choice=*) kind=${kind#choice=}; mapfile -t COMPREPLY < <(compgen -W "${kind//,/$'\n'}" -- "$cur") ;;
    cohort) mapfile -t COMPREPLY < <(compgen -W "$("${_darasa_cmd[@]}" __complete cohorts 2>/dev/null)" -- "$cur") ;;
    dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    *) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
  esac
}

_darasa() {
  local cur=${COMP_WORDS[COMP_CWORD]} path=darasa npos=0 i w v kind opt=""
  # The command that lists cohorts: this darasa, with the line's --state/--server.
  local -a _darasa_cmd=("${COMP_WORDS[0]}")
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    case $w in
      -*)
        kind=$(_darasa_value_kind "$path" "${w%%=*}")
        case $w in --state=*|--server=*) _darasa_cmd+=("$w") ;; esac
        if [[ -n $kind && $w != *=* ]]; then
          v=${COMP_WORDS[i+1]}
          # "--opt=value" split at '=' (COMP_WORDBREAKS): the value is after the '='.
          if [[ $v == = ]]; then ((i++)); v=${COMP_WORDS[i+1]}; fi
          ((i++))
          case $w in --state|--server) ((i < COMP_CWORD)) && _darasa_cmd+=("$w" "$v") ;; esac
        fi ;;
      *)
        if ((npos == 0)) && [[ " ${_darasa_subs[$path]} " == *" $w "* ]]; then
          path="$path $w"
        else
          ((npos++))
        fi ;;
    esac
  done
  # The value of an option?
  local prev=${COMP_WORDS[COMP_CWORD-1]}
  if [[ $cur == = ]]; then opt=$prev; cur=""
  elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then opt=${COMP_WORDS[COMP_CWORD-2]}
  elif [[ $prev == -* && $prev != *=* ]]; then opt=$prev
  fi
  if [[ -n $opt && $cur != -* ]]; then
    kind=$(_darasa_value_kind "$path" "$opt")
    if [[ -n $kind ]]; then _darasa_complete_kind "$kind" "$cur"; return 0; fi
  fi
  if [[ $cur == -* ]]; then
    local words=${_darasa_opts[$path]}
    [[ $path != darasa ]] && words+=" ${_darasa_opts[darasa]}"
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur" | sort -u)
    return 0
  fi
  if ((npos == 0)) && [[ -n ${_darasa_subs[$path]} ]]; then
    mapfile -t COMPREPLY < <(compgen -W "${_darasa_subs[$path]}" -- "$cur")
    return 0
  fi
  local -a pos
  read -r -a pos <<<"${_darasa_pos[$path]}"
  ((${#pos[@]})) || return 0
  if ((npos < ${#pos[@]})); then
    kind=${pos[npos]}
  else
    kind=${pos[${#pos[@]}-1]}
    [[ $kind == *... ]] || return 0
  fi
  _darasa_complete_kind "$kind" "$cur"
}
complete -F _darasa darasa
)BASH";
  return out.str();
}

std::string zshCompletion(const CommandDoc& root, const std::string& version) {
  std::ostringstream out;
  out << "#compdef darasa\n"
         "# zsh completion for darasa "
      << version
      << ", generated from its command line by\n"
         "# `darasa completion zsh`; do not edit. Cohort names come from\n"
         "# `darasa __complete cohorts` with the --state/--server of the line.\n\n";
  // Global options: darasa's own, valid after any command too.
  out << "_darasa_global=(\n";
  for (const auto& o : root.options)
    if (!o.positional()) out << "  " << zshSpec(o) << "\n";
  out << ")\n\n";
  out << R"ZSH(_darasa_cohorts() {
  local -a args cohorts
  local i
  for (( i = 2; i <= ${#_darasa_line}; i++ )); do
    case ${_darasa_line[i]} in
      --state|--server) args+=(${_darasa_line[i]} ${_darasa_line[i+1]}) ;;
      --state=*|--server=*) args+=(${_darasa_line[i]}) ;;
    esac
  done
  cohorts=(${(f)"$(_call_program cohorts ${_darasa_line[1]} ${(q)args} __complete cohorts 2>/dev/null)"})
  _describe -t cohorts 'cohort' cohorts
}

)ZSH";
  std::function<void(const CommandDoc&)> emit = [&](const CommandDoc& c) {
    out << zshFunction(c) << "() {\n";
    if (c.path.empty()) out << "  _darasa_line=(${words})\n";
    if (c.subcommands.empty()) {
      out << "  _arguments -s -S \\\n    $_darasa_global";
      for (const auto& o : c.options) out << " \\\n    " << zshSpec(o);
      out << "\n}\n\n";
      return;
    }
    out << "  local curcontext=\"$curcontext\" state line\n  typeset -A opt_args\n";
    out << "  _arguments -C -s -S";
    if (!c.path.empty()) out << " \\\n    $_darasa_global";
    for (const auto& o : c.options) out << " \\\n    " << zshSpec(o);
    out << " \\\n    '1: :->command' \\\n    '*:: :->argument'\n";
    out << "  case $state in\n    command)\n      local -a commands\n      commands=(\n";
    for (const auto& s : c.subcommands) {
      std::string name;
      for (char ch : s.path.back()) name += ch == ':' ? std::string("\\:") : std::string(1, ch);
      out << "        '" << zshSingle(name) << ":" << zshSingle(s.summary()) << "'\n";
    }
    out << "      )\n      _describe -t commands 'command' commands ;;\n    argument)\n      case $line[1] in\n";
    for (const auto& s : c.subcommands) out << "        " << s.path.back() << ") " << zshFunction(s) << " ;;\n";
    out << "      esac ;;\n  esac\n}\n\n";
    for (const auto& s : c.subcommands) emit(s);
  };
  emit(root);
  out << "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n  _darasa \"$@\"\nelse\n  compdef _darasa darasa\nfi\n";
  return out.str();
}

}  // namespace darasa::cli

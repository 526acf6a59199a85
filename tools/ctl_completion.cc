#include "tools/ctl_completion.h"

#include <iostream>
#include <map>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace leadvault::tools {
namespace {

// True for a word the script may hold unquoted: command, option and choice
// names are such words; anything else is left out of the script.
bool IsPlainWord(absl::string_view word) {
  if (word.empty()) return false;
  for (char ch : word) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' &&
        ch != '.') {
      return false;
    }
  }
  return true;
}

// What may follow at one command path ("leadvaultctl/lead/get"): its
// subcommands, and its own options together with its parents' (fallthrough).
struct Level {
  std::string path;
  std::vector<std::string> subcommands;
  std::vector<std::string> options;
  std::vector<std::string> valued;                          // options that take a value
  std::map<std::string, std::vector<std::string>> choices;  // option -> its allowed values
};

// The values an option is restricted to: CLI::IsMember describes them in its
// type name as "TYPE:{a,b,c}". Empty for any other option.
std::vector<std::string> Choices(const CLI::Option& option) {
  const std::string type = option.get_type_name();
  const size_t open = type.find('{');
  const size_t close = open == std::string::npos ? open : type.find('}', open);
  std::vector<std::string> out;
  if (close == std::string::npos) return out;
  for (absl::string_view choice :
       absl::StrSplit(absl::string_view(type).substr(open + 1, close - open - 1), ',')) {
    if (IsPlainWord(choice)) out.emplace_back(choice);
  }
  return out;
}

// Adds the named options of `app` and of its option groups to `level`.
void AddOptions(const CLI::App& app, Level* level) {
  for (const CLI::Option* option : app.get_options()) {
    if (!option->nonpositional()) continue;
    const bool takes_value = option->get_type_size_max() > 0;
    const std::vector<std::string> choices =
        takes_value ? Choices(*option) : std::vector<std::string>();
    std::vector<std::string> names;
    for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
    for (const std::string& name : option->get_snames()) names.push_back("-" + name);
    for (const std::string& name : names) {
      if (!IsPlainWord(name) || absl::c_linear_search(level->options, name)) continue;
      level->options.push_back(name);
      if (!takes_value) continue;
      level->valued.push_back(name);
      if (!choices.empty()) level->choices[name] = choices;
    }
  }
  // An option group is a nameless subcommand holding its options.
  for (const CLI::App* group :
       app.get_subcommands([](const CLI::App* sub) { return sub->get_name().empty(); })) {
    AddOptions(*group, level);
  }
}

// Appends the level of `app` at `path` (inheriting `parent`'s options) and
// those of every subcommand under it.
void Walk(const CLI::App& app, const std::string& path, const Level& parent,
          std::vector<Level>* levels) {
  Level level = parent;
  level.path = path;
  level.subcommands.clear();
  AddOptions(app, &level);
  std::vector<const CLI::App*> children =
      app.get_subcommands([](const CLI::App* sub) { return IsPlainWord(sub->get_name()); });
  for (const CLI::App* child : children) level.subcommands.push_back(child->get_name());
  levels->push_back(level);
  const Level inherited = levels->back();
  for (const CLI::App* child : children) {
    Walk(*child, absl::StrCat(path, "/", child->get_name()), inherited, levels);
  }
}

// `name=( ["key"]="words" ... )` lines of a bash associative array.
void AppendArray(absl::string_view name,
                 const std::vector<std::pair<std::string, std::string>>& rows,
                 std::string* script) {
  absl::StrAppend(script, "  local -A ", name, "=(\n");
  for (const auto& [key, words] : rows) {
    absl::StrAppend(script, "    [\"", key, "\"]=\"", words, "\"\n");
  }
  absl::StrAppend(script, "  )\n");
}

constexpr char kScriptHead[] =
    "# bash completion for leadvaultctl, printed by `leadvaultctl completion bash` from its\n"
    "# command tree. Install: leadvaultctl completion bash > "
    "/etc/bash_completion.d/leadvaultctl\n"
    "# (or source it from ~/.bashrc).\n"
    "_leadvaultctl() {\n";

// Walks the words before the cursor down the command tree (skipping option
// values), then completes the value of the option before the cursor, an
// option, a subcommand, or (after a leaf command) a file name.
constexpr char kScriptBody[] =
    R"(  local cur=${COMP_WORDS[COMP_CWORD]} prev="" path=leadvaultctl word i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ " ${valued[$path]} " == *" $word "* ]]; then
      i=$((i + 1))
    elif [[ $word != -* && " ${subcommands[$path]} " == *" $word "* ]]; then
      path+="/$word"
    fi
  done
  if ((COMP_CWORD > 1)); then prev=${COMP_WORDS[COMP_CWORD - 1]}; fi
  COMPREPLY=()
  if [[ -n $prev && " ${valued[$path]} " == *" $prev "* ]]; then
    if [[ -n ${choices["$path $prev"]} ]]; then
      COMPREPLY=($(compgen -W "${choices["$path $prev"]}" -- "$cur"))
    else
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
    fi
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "${options[$path]}" -- "$cur"))
  elif [[ -n ${subcommands[$path]} ]]; then
    COMPREPLY=($(compgen -W "${subcommands[$path]}" -- "$cur"))
  else
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
  return 0
}
complete -F _leadvaultctl leadvaultctl
)";

}  // namespace

std::string BashCompletionScript(const CLI::App& root) {
  std::vector<Level> levels;
  Walk(root, "leadvaultctl", Level(), &levels);
  std::vector<std::pair<std::string, std::string>> subcommands, options, valued, choices;
  for (const Level& level : levels) {
    if (!level.subcommands.empty()) {
      subcommands.emplace_back(level.path, absl::StrJoin(level.subcommands, " "));
    }
    options.emplace_back(level.path, absl::StrJoin(level.options, " "));
    valued.emplace_back(level.path, absl::StrJoin(level.valued, " "));
    for (const auto& [option, values] : level.choices) {
      choices.emplace_back(absl::StrCat(level.path, " ", option), absl::StrJoin(values, " "));
    }
  }
  std::string script = kScriptHead;
  AppendArray("subcommands", subcommands, &script);
  AppendArray("options", options, &script);
  AppendArray("valued", valued, &script);
  AppendArray("choices", choices, &script);
  absl::StrAppend(&script, kScriptBody);
  return script;
}

std::unique_ptr<CompletionCommand> AddCompletionCommand(CLI::App& app) {
  auto command = std::make_unique<CompletionCommand>();
  command->completion = app.add_subcommand(
      "completion", "print a shell completion script (install it once; see the README)");
  command->completion->add_option("SHELL", command->shell, "the shell: bash")
      ->required()
      ->check(CLI::IsMember({"bash"}));
  command->completion->footer(
      "Install: leadvaultctl completion bash > /etc/bash_completion.d/leadvaultctl\n"
      "or, for one shell: source <(leadvaultctl completion bash)");
  return command;
}

std::optional<int> RunCompletionCommand(const CompletionCommand& command, const CLI::App& root) {
  if (!command.completion->parsed()) return std::nullopt;
  std::cout << BashCompletionScript(root) << std::flush;
  return std::cout ? 0 : 1;
}

}  // namespace leadvault::tools

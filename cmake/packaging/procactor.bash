# bash completion for procactor                          -*- shell-script -*-
#
# Installed as share/bash-completion/completions/procactor. Subcommands and
# their options are read from the command itself when completing
# (`procactor --help`, `procactor SUB --help`: CLI11's help), so the
# completion stays true as subcommands are added, from whichever procactor
# is being typed (on PATH, or ./build/bin/procactor). Positionals complete
# by their name in that help: FILE a graph file (*.toml), RUN a run of this
# user (a directory of its state directory, _procactor_runs), COMMAND a
# subcommand (`procactor help COMMAND`).

# The help of the procactor being completed: EXE [SUBCOMMAND].
_procactor_help() {
  LC_ALL=C "$@" --help 2>/dev/null
}

# The lines of one section ("Subcommands:", "Options:", "Positionals:") of
# a help text on stdin: up to the next blank line.
_procactor_section() {
  local line inside=0
  while IFS= read -r line; do
    if [[ $inside == 0 ]]; then
      [[ $line == "$1" ]] && inside=1
    elif [[ -z $line ]]; then
      break
    else
      printf '%s\n' "$line"
    fi
  done
}

# The runs the control commands can name: the directories that hold a
# supervisor.lock in the state directory ($PROCACTOR_STATE_DIR, else
# $XDG_STATE_HOME/procactor, else ~/.local/state/procactor), or in
# ${XDG_RUNTIME_DIR:-/tmp}/procactor-UID where an older procactor kept them.
_procactor_runs() {
  local root
  if [[ -n ${PROCACTOR_STATE_DIR:-} ]]; then
    root=$PROCACTOR_STATE_DIR
  elif [[ ${XDG_STATE_HOME:-} == /* ]]; then
    root=$XDG_STATE_HOME/procactor
  else
    root=$HOME/.local/state/procactor
  fi
  [[ -d $root ]] || root="${XDG_RUNTIME_DIR:-/tmp}/procactor-${UID:-$(id -u)}"
  [[ -d $root ]] || return 0
  local dir
  for dir in "$root"/*/; do
    dir=${dir%/}
    [[ -e $dir/supervisor.lock ]] && printf '%s\n' "${dir##*/}"
  done
}

_procactor() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local exe=${COMP_WORDS[0]}
  # A typed ~/x/procactor is still unexpanded here.
  # shellcheck disable=SC2088
  [[ $exe == "~/"* ]] && exe="$HOME/${exe#\~/}"
  COMPREPLY=()

  # The subcommand: the first word after the command that is neither an
  # option nor the value of --color (which bash splits at the "=" of
  # --color=always).
  local i sub="" at=0 skip=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    if [[ $skip == 1 ]]; then
      [[ ${COMP_WORDS[i]} == "=" ]] || skip=0
      continue
    fi
    if [[ ${COMP_WORDS[i]} == --color ]]; then
      skip=1
    elif [[ ${COMP_WORDS[i]} != -* ]]; then
      sub=${COMP_WORDS[i]}
      at=$i
      break
    fi
  done
  local line
  if [[ -z $sub ]]; then
    local words=""
    if [[ $skip == 1 ]]; then
      [[ $cur == "=" ]] && cur=""
      words="auto always never"
    elif [[ $cur == -* ]]; then
      words="-h --help --version --color"
    else
      while IFS= read -r line; do
        [[ $line =~ ^\ \ ([a-z][a-z0-9_-]*) ]] && words+=" ${BASH_REMATCH[1]}"
      done < <(_procactor_help "$exe" | _procactor_section "Subcommands:")
    fi
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
    return 0
  fi

  # The subcommand's options (those that take a value, with their choices
  # when the help lists them: "--format FORMAT:{text,dot}") and positionals.
  local help options="" name names value
  local -A takes=()
  local -a positionals=()
  help=$(_procactor_help "$exe" "$sub") || return 0
  while IFS= read -r line; do
    [[ $line =~ ^\ \ (-[^\ ]+)(\ ([^\ ]+))? ]] || continue
    names=${BASH_REMATCH[1]}
    value=${BASH_REMATCH[3]}
    # A value's type is in capitals (N, D:DURATION, FORMAT:{text,dot});
    # "Excludes: --drain" is about the option, not a value.
    [[ $value =~ ^[A-Z][A-Z0-9_]*(:|$) ]] || value=""
    for name in ${names//,/ }; do
      options+=" $name"
      [[ -n $value ]] && takes[$name]=$value
    done
  done < <(_procactor_section "Options:" <<<"$help")
  while IFS= read -r line; do
    [[ $line =~ ^\ \ ([A-Z][A-Z0-9_]*)\  ]] && positionals+=("${BASH_REMATCH[1]}")
  done < <(_procactor_section "Positionals:" <<<"$help")

  # Which positional is being typed: count the words before it, less the
  # options and their values.
  local count=0 pending=""
  for ((i = at + 1; i < COMP_CWORD; i++)); do
    local word=${COMP_WORDS[i]}
    if [[ -n $pending ]]; then
      pending=""
    elif [[ $word == -* ]]; then
      [[ $word != *=* && -n ${takes[$word]:-} ]] && pending=$word
    else
      ((count++))
    fi
  done

  if [[ -n $pending ]]; then
    # The value of an option: its choices, or signal names.
    value=${takes[$pending]}
    local choices=""
    if [[ $value =~ \{([^}]*)\} ]]; then
      choices=${BASH_REMATCH[1]//,/ }
    elif [[ $value == SIG* ]]; then
      choices="TERM KILL INT HUP QUIT USR1 USR2 ABRT SEGV STOP CONT"
    fi
    [[ -n $choices ]] && mapfile -t COMPREPLY < <(compgen -W "$choices" -- "$cur")
    return 0
  fi
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    return 0
  fi
  case ${positionals[count]:-} in
    FILE | GRAPH)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -X '!*.toml' -- "$cur"; compgen -d -- "$cur")
      ;;
    RUN)
      mapfile -t COMPREPLY < <(compgen -W "$(_procactor_runs)" -- "$cur")
      ;;
    COMMAND)
      # `procactor help COMMAND`: the subcommands.
      local commands=""
      while IFS= read -r line; do
        [[ $line =~ ^\ \ ([a-z][a-z0-9_-]*) ]] && commands+=" ${BASH_REMATCH[1]}"
      done < <(_procactor_help "$exe" | _procactor_section "Subcommands:")
      mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
      ;;
  esac
  return 0
}
complete -F _procactor procactor

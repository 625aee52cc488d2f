# bash completion for couchctl (written by python -m couchctl.cli._completion)
_couchctl_completion() {
    local IFS=$'\n'
    # bash splits the line at every character of COMP_WORDBREAKS (':' and '=' among
    # them), so `http://host:5984` or the id `user:bob` arrives in pieces. Join the
    # pieces that no blank separates back into the words couchctl sees (this needs
    # no bash-completion package, and works with it).
    local -a words=() replies=()
    local rest=$COMP_LINE piece n=-1 i
    for (( i = 0; i <= COMP_CWORD; i++ )); do
        piece=${COMP_WORDS[i]}
        if (( n < 0 )) || [[ $rest == [[:space:]]* ]]; then
            rest=${rest#"${rest%%[![:space:]]*}"}
            words[++n]=
        fi
        words[n]+=$piece
        rest=${rest#"$piece"}
    done
    # bash replaces only its last piece of the word: take off each completion what
    # the earlier pieces already say (in --opt=value, couchctl completes the value).
    local word=${words[n]} cur=${COMP_WORDS[COMP_CWORD]} lead=
    if [[ $word == --*=* ]]; then
        word=${word#*=}
        [[ $cur == "=" ]] && lead="="
    fi
    local before=${word%"$cur"} quote= reply
    [[ $word == *"$cur" ]] || before=
    [[ $word == [\"\']* ]] && quote=${word:0:1} before=${before#"$quote"}
    mapfile -t replies < <(env COMP_WORDS="${words[*]}" COMP_CWORD=$n \
                               _COUCHCTL_COMPLETE=complete_bash "$1" 2>/dev/null)
    COMPREPLY=()
    for reply in "${replies[@]}"; do
        [[ -n $reply ]] || continue
        reply=${reply#"$before"}
        # ids may hold blanks, quotes, $ ...: quote them as the word was begun
        if [[ $quote == "'" ]]; then
            reply="'${reply//\'/\'\\\'\'}'"
        elif [[ $quote == '"' ]]; then
            reply=${reply//\\/\\\\} reply=${reply//\$/\\\$}
            reply=${reply//\`/\\\`} reply=\"${reply//\"/\\\"}\"
        else
            printf -v reply '%q' "$reply"
        fi
        COMPREPLY+=( "$lead$reply" )
    done
    return 0
}

complete -o default -F _couchctl_completion couchctl

# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_tend_global_optspecs
    string join \n output= q/quiet v/verbose no-color state-dir= h/help V/version
end

function __fish_tend_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_tend_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_tend_using_subcommand
    set -l cmd (__fish_tend_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c tend -n "__fish_tend_needs_command" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_needs_command" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_needs_command" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_needs_command" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_needs_command" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_needs_command" -s V -l version -d 'Print version'
complete -c tend -n "__fish_tend_needs_command" -f -a "deploy" -d 'Deploy a release: fetch, stop, migrate, configure, switch, start, verify; on any failure after stop, roll back to the last verified release and verify it'
complete -c tend -n "__fish_tend_needs_command" -f -a "rollback" -d 'Roll back to the previous (or a given) verified release, and verify it'
complete -c tend -n "__fish_tend_needs_command" -f -a "releases" -d 'List a deploy\'s releases: which is current, which verified, which failed'
complete -c tend -n "__fish_tend_needs_command" -f -a "plan" -d 'Show what a playbook would do (steps, rollback, checks), touching nothing'
complete -c tend -n "__fish_tend_needs_command" -f -a "failover" -d 'The DNS failover SOP: probe the servers, fence the failed active, promote the standby, verify it answers'
complete -c tend -n "__fish_tend_needs_command" -f -a "check" -d 'Run threshold checks (CPU, memory, disk, load, processes, probes) with alerts'
complete -c tend -n "__fish_tend_needs_command" -f -a "cleanup" -d 'Compress, archive and expire files by rule; free a mount below a target'
complete -c tend -n "__fish_tend_needs_command" -f -a "drill" -d 'Rehearse a playbook\'s failure path for real, timed: a deploy\'s rollback and back, a failover and back, the alert path of checks; write the game-day report'
complete -c tend -n "__fish_tend_needs_command" -f -a "validate" -d 'Parse, type-check and template-check playbooks, with no side effects'
complete -c tend -n "__fish_tend_needs_command" -f -a "history" -d 'List past runs, or show one run\'s timeline'
complete -c tend -n "__fish_tend_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c tend -n "__fish_tend_needs_command" -f -a "schema" -d 'Print the JSON Schema of a playbook kind (or of any playbook), for editors'
complete -c tend -n "__fish_tend_needs_command" -f -a "man" -d 'Print the man page (roff)'
complete -c tend -n "__fish_tend_needs_command" -f -a "statvfs" -d 'statvfs one path and print the numbers: run by `tend check` as a child process for network and FUSE filesystems, so a hung mount cannot keep tend from exiting'
complete -c tend -n "__fish_tend_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tend -n "__fish_tend_using_subcommand deploy" -l limit -d 'Only these hosts or inventory groups (comma-separated)' -r
complete -c tend -n "__fish_tend_using_subcommand deploy" -l forks -d 'Hosts worked on at once [default: 20]' -r
complete -c tend -n "__fish_tend_using_subcommand deploy" -l var -d 'Set a variable, overriding the playbook\'s vars (repeatable)' -r
complete -c tend -n "__fish_tend_using_subcommand deploy" -l vars-file -d 'Read variables from a YAML file (a mapping), overriding the playbook\'s vars' -r -F
complete -c tend -n "__fish_tend_using_subcommand deploy" -l wait-lock -d 'Wait this long for another run\'s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)' -r
complete -c tend -n "__fish_tend_using_subcommand deploy" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand deploy" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand deploy" -l dry-run -d 'Show the steps and the rollback plan (= `tend plan`); touch nothing'
complete -c tend -n "__fish_tend_using_subcommand deploy" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand deploy" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand deploy" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand deploy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand rollback" -l to -d 'The release to go back to [default: the last verified release before the current one]' -r
complete -c tend -n "__fish_tend_using_subcommand rollback" -l limit -d 'Only these hosts or inventory groups (comma-separated)' -r
complete -c tend -n "__fish_tend_using_subcommand rollback" -l forks -d 'Hosts worked on at once [default: 20]' -r
complete -c tend -n "__fish_tend_using_subcommand rollback" -l var -d 'Set a variable, overriding the playbook\'s vars (repeatable)' -r
complete -c tend -n "__fish_tend_using_subcommand rollback" -l vars-file -d 'Read variables from a YAML file (a mapping), overriding the playbook\'s vars' -r -F
complete -c tend -n "__fish_tend_using_subcommand rollback" -l wait-lock -d 'Wait this long for another run\'s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)' -r
complete -c tend -n "__fish_tend_using_subcommand rollback" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand rollback" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand rollback" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand rollback" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand rollback" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand rollback" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand releases" -l limit -d 'Only these hosts or inventory groups (comma-separated)' -r
complete -c tend -n "__fish_tend_using_subcommand releases" -l forks -d 'Hosts worked on at once [default: 20]' -r
complete -c tend -n "__fish_tend_using_subcommand releases" -l var -d 'Set a variable, overriding the playbook\'s vars (repeatable)' -r
complete -c tend -n "__fish_tend_using_subcommand releases" -l vars-file -d 'Read variables from a YAML file (a mapping), overriding the playbook\'s vars' -r -F
complete -c tend -n "__fish_tend_using_subcommand releases" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand releases" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand releases" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand releases" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand releases" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand releases" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand plan" -l limit -d 'Only these hosts or inventory groups (comma-separated)' -r
complete -c tend -n "__fish_tend_using_subcommand plan" -l forks -d 'Hosts worked on at once [default: 20]' -r
complete -c tend -n "__fish_tend_using_subcommand plan" -l var -d 'Set a variable, overriding the playbook\'s vars (repeatable)' -r
complete -c tend -n "__fish_tend_using_subcommand plan" -l vars-file -d 'Read variables from a YAML file (a mapping), overriding the playbook\'s vars' -r -F
complete -c tend -n "__fish_tend_using_subcommand plan" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand plan" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand plan" -l offline -d 'A fleet\'s plan without reading its hosts: each host\'s rollback target shows as its last verified release, unnamed'
complete -c tend -n "__fish_tend_using_subcommand plan" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand plan" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand plan" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand plan" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand failover" -l var -d 'Set a variable, overriding the playbook\'s vars (repeatable)' -r
complete -c tend -n "__fish_tend_using_subcommand failover" -l vars-file -d 'Read variables from a YAML file (a mapping), overriding the playbook\'s vars' -r -F
complete -c tend -n "__fish_tend_using_subcommand failover" -l wait-lock -d 'Wait this long for another run\'s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)' -r
complete -c tend -n "__fish_tend_using_subcommand failover" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand failover" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand failover" -l dry-run -d 'Probe and show the decision and the steps that would run; change nothing'
complete -c tend -n "__fish_tend_using_subcommand failover" -l now -d 'Skip the grace period and the hold-down, and probe rounds back to back'
complete -c tend -n "__fish_tend_using_subcommand failover" -l watch -d 'Keep running: probe every `interval` and act as needed (a service, not cron)'
complete -c tend -n "__fish_tend_using_subcommand failover" -l status -d 'Show the last transitions and any failover under way'
complete -c tend -n "__fish_tend_using_subcommand failover" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand failover" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand failover" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand failover" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand check" -l prom-file -d 'Also write the results as a node_exporter textfile, atomically' -r -F
complete -c tend -n "__fish_tend_using_subcommand check" -l timeout -d 'Give up on checks still running after this long: they are UNKNOWN [default: the playbook\'s `timeout:`, else 60s]' -r
complete -c tend -n "__fish_tend_using_subcommand check" -l limit -d 'Only these hosts or inventory groups (comma-separated)' -r
complete -c tend -n "__fish_tend_using_subcommand check" -l forks -d 'Hosts worked on at once [default: 20]' -r
complete -c tend -n "__fish_tend_using_subcommand check" -l var -d 'Set a variable, overriding the playbook\'s vars (repeatable)' -r
complete -c tend -n "__fish_tend_using_subcommand check" -l vars-file -d 'Read variables from a YAML file (a mapping), overriding the playbook\'s vars' -r -F
complete -c tend -n "__fish_tend_using_subcommand check" -l wait-lock -d 'Wait this long for another run\'s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)' -r
complete -c tend -n "__fish_tend_using_subcommand check" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand check" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand check" -l no-notify -d 'Evaluate and print, but send no alert and record no alert state'
complete -c tend -n "__fish_tend_using_subcommand check" -l no-remedy -d 'Evaluate only: run no check\'s `remedy:`'
complete -c tend -n "__fish_tend_using_subcommand check" -l per-host -d 'Across hosts, `--output nagios` prints a line per host, tab-separated for send_nsca/Icinga passive checks (HOST, SERVICE, CODE, OUTPUT), instead of one line for the fleet'
complete -c tend -n "__fish_tend_using_subcommand check" -l from-controller -d 'Run as the controller\'s part on a host: the playbook comes on stdin, resolved'
complete -c tend -n "__fish_tend_using_subcommand check" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand check" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand check" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand cleanup" -s j -l jobs -d 'Files compressed or archived at once [default: the number of CPUs (each host\'s own, across hosts)]' -r
complete -c tend -n "__fish_tend_using_subcommand cleanup" -l limit -d 'Only these hosts or inventory groups (comma-separated)' -r
complete -c tend -n "__fish_tend_using_subcommand cleanup" -l forks -d 'Hosts worked on at once [default: 20]' -r
complete -c tend -n "__fish_tend_using_subcommand cleanup" -l var -d 'Set a variable, overriding the playbook\'s vars (repeatable)' -r
complete -c tend -n "__fish_tend_using_subcommand cleanup" -l vars-file -d 'Read variables from a YAML file (a mapping), overriding the playbook\'s vars' -r -F
complete -c tend -n "__fish_tend_using_subcommand cleanup" -l wait-lock -d 'Wait this long for another run\'s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)' -r
complete -c tend -n "__fish_tend_using_subcommand cleanup" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand cleanup" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand cleanup" -l dry-run -d 'List every action with the bytes it would reclaim; touch nothing'
complete -c tend -n "__fish_tend_using_subcommand cleanup" -l from-controller -d 'Run as the controller\'s part on a host: the playbook comes on stdin, resolved'
complete -c tend -n "__fish_tend_using_subcommand cleanup" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand cleanup" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand cleanup" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand cleanup" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand drill" -l report -d 'Write the game-day report (Markdown) to this file, atomically' -r -F
complete -c tend -n "__fish_tend_using_subcommand drill" -l trip -d 'Check playbooks: also trip this check (its thresholds set so it fails) and send its alert for real, so the whole path from evaluation to inbox runs' -r
complete -c tend -n "__fish_tend_using_subcommand drill" -l limit -d 'Only these hosts or inventory groups (comma-separated)' -r
complete -c tend -n "__fish_tend_using_subcommand drill" -l forks -d 'Hosts worked on at once [default: 20]' -r
complete -c tend -n "__fish_tend_using_subcommand drill" -l var -d 'Set a variable, overriding the playbook\'s vars (repeatable)' -r
complete -c tend -n "__fish_tend_using_subcommand drill" -l vars-file -d 'Read variables from a YAML file (a mapping), overriding the playbook\'s vars' -r -F
complete -c tend -n "__fish_tend_using_subcommand drill" -l wait-lock -d 'Wait this long for another run\'s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)' -r
complete -c tend -n "__fish_tend_using_subcommand drill" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand drill" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand drill" -l yes -d 'Run it though the playbook has no `drill: { allowed: true }`'
complete -c tend -n "__fish_tend_using_subcommand drill" -l dry-run -d 'Show the legs the drill would run (read from the hosts\' releases); touch nothing'
complete -c tend -n "__fish_tend_using_subcommand drill" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand drill" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand drill" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand drill" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand validate" -l var -d 'Set a variable, overriding the playbook\'s vars (repeatable)' -r
complete -c tend -n "__fish_tend_using_subcommand validate" -l vars-file -d 'Read variables from a YAML file (a mapping), overriding the playbook\'s vars' -r -F
complete -c tend -n "__fish_tend_using_subcommand validate" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand validate" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand validate" -l strict-host -d 'Also refuse what is only true of this machine (a path or mount missing here), as a run would; without it these are warnings, for playbooks meant for other machines'
complete -c tend -n "__fish_tend_using_subcommand validate" -l vars-complete -d 'Also refuse a variable no one defined; without it, it is named as required at run time (e.g. a deploy\'s sha256, given with --var) and checked with a stand-in'
complete -c tend -n "__fish_tend_using_subcommand validate" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand validate" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand validate" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand history; and not __fish_seen_subcommand_from show help" -l kind -d 'Only runs of this kind' -r -f -a "deploy\t''
rollback\t''
cleanup\t''
failover\t''
check\t''
drill\t''"
complete -c tend -n "__fish_tend_using_subcommand history; and not __fish_seen_subcommand_from show help" -l limit -d 'How many runs to list, newest first (at least 1)' -r
complete -c tend -n "__fish_tend_using_subcommand history; and not __fish_seen_subcommand_from show help" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand history; and not __fish_seen_subcommand_from show help" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand history; and not __fish_seen_subcommand_from show help" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand history; and not __fish_seen_subcommand_from show help" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand history; and not __fish_seen_subcommand_from show help" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand history; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand history; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Print one run\'s timeline'
complete -c tend -n "__fish_tend_using_subcommand history; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tend -n "__fish_tend_using_subcommand history; and __fish_seen_subcommand_from show" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand history; and __fish_seen_subcommand_from show" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand history; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand history; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand history; and __fish_seen_subcommand_from show" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand history; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand history; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print one run\'s timeline'
complete -c tend -n "__fish_tend_using_subcommand history; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tend -n "__fish_tend_using_subcommand completions" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand completions" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand completions" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand completions" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand completions" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand schema" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand schema" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand schema" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand schema" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand schema" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand schema" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand man" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand man" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand man" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand man" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand man" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand statvfs" -l output -d 'How progress and results are shown: auto is human on a terminal, plain otherwise' -r -f -a "auto\t''
human\t''
plain\t''
json\t''
nagios\t'Monitoring Plugins format (tend check only)'"
complete -c tend -n "__fish_tend_using_subcommand statvfs" -l state-dir -d 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]' -r -F
complete -c tend -n "__fish_tend_using_subcommand statvfs" -s q -l quiet -d 'Print only problems (cron mails nothing on success)'
complete -c tend -n "__fish_tend_using_subcommand statvfs" -s v -l verbose -d 'Show each step\'s output lines'
complete -c tend -n "__fish_tend_using_subcommand statvfs" -l no-color -d 'Never use colour (NO_COLOR is honoured too)'
complete -c tend -n "__fish_tend_using_subcommand statvfs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "deploy" -d 'Deploy a release: fetch, stop, migrate, configure, switch, start, verify; on any failure after stop, roll back to the last verified release and verify it'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "rollback" -d 'Roll back to the previous (or a given) verified release, and verify it'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "releases" -d 'List a deploy\'s releases: which is current, which verified, which failed'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "plan" -d 'Show what a playbook would do (steps, rollback, checks), touching nothing'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "failover" -d 'The DNS failover SOP: probe the servers, fence the failed active, promote the standby, verify it answers'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "check" -d 'Run threshold checks (CPU, memory, disk, load, processes, probes) with alerts'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "cleanup" -d 'Compress, archive and expire files by rule; free a mount below a target'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "drill" -d 'Rehearse a playbook\'s failure path for real, timed: a deploy\'s rollback and back, a failover and back, the alert path of checks; write the game-day report'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "validate" -d 'Parse, type-check and template-check playbooks, with no side effects'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "history" -d 'List past runs, or show one run\'s timeline'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "completions" -d 'Print a shell completion script'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "schema" -d 'Print the JSON Schema of a playbook kind (or of any playbook), for editors'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "man" -d 'Print the man page (roff)'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "statvfs" -d 'statvfs one path and print the numbers: run by `tend check` as a child process for network and FUSE filesystems, so a hung mount cannot keep tend from exiting'
complete -c tend -n "__fish_tend_using_subcommand help; and not __fish_seen_subcommand_from deploy rollback releases plan failover check cleanup drill validate history completions schema man statvfs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tend -n "__fish_tend_using_subcommand help; and __fish_seen_subcommand_from history" -f -a "show" -d 'Print one run\'s timeline'

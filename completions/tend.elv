
use builtin;
use str;

set edit:completion:arg-completer[tend] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'tend'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'tend'= {
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand deploy 'Deploy a release: fetch, stop, migrate, configure, switch, start, verify; on any failure after stop, roll back to the last verified release and verify it'
            cand rollback 'Roll back to the previous (or a given) verified release, and verify it'
            cand releases 'List a deploy''s releases: which is current, which verified, which failed'
            cand plan 'Show what a playbook would do (steps, rollback, checks), touching nothing'
            cand failover 'The DNS failover SOP: probe the servers, fence the failed active, promote the standby, verify it answers'
            cand check 'Run threshold checks (CPU, memory, disk, load, processes, probes) with alerts'
            cand cleanup 'Compress, archive and expire files by rule; free a mount below a target'
            cand drill 'Rehearse a playbook''s failure path for real, timed: a deploy''s rollback and back, a failover and back, the alert path of checks; write the game-day report'
            cand validate 'Parse, type-check and template-check playbooks, with no side effects'
            cand history 'List past runs, or show one run''s timeline'
            cand completions 'Print a shell completion script'
            cand schema 'Print the JSON Schema of a playbook kind (or of any playbook), for editors'
            cand man 'Print the man page (roff)'
            cand statvfs 'statvfs one path and print the numbers: run by `tend check` as a child process for network and FUSE filesystems, so a hung mount cannot keep tend from exiting'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tend;deploy'= {
            cand --limit 'Only these hosts or inventory groups (comma-separated)'
            cand --forks 'Hosts worked on at once [default: 20]'
            cand --var 'Set a variable, overriding the playbook''s vars (repeatable)'
            cand --vars-file 'Read variables from a YAML file (a mapping), overriding the playbook''s vars'
            cand --wait-lock 'Wait this long for another run''s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)'
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand --dry-run 'Show the steps and the rollback plan (= `tend plan`); touch nothing'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;rollback'= {
            cand --to 'The release to go back to [default: the last verified release before the current one]'
            cand --limit 'Only these hosts or inventory groups (comma-separated)'
            cand --forks 'Hosts worked on at once [default: 20]'
            cand --var 'Set a variable, overriding the playbook''s vars (repeatable)'
            cand --vars-file 'Read variables from a YAML file (a mapping), overriding the playbook''s vars'
            cand --wait-lock 'Wait this long for another run''s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)'
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;releases'= {
            cand --limit 'Only these hosts or inventory groups (comma-separated)'
            cand --forks 'Hosts worked on at once [default: 20]'
            cand --var 'Set a variable, overriding the playbook''s vars (repeatable)'
            cand --vars-file 'Read variables from a YAML file (a mapping), overriding the playbook''s vars'
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;plan'= {
            cand --limit 'Only these hosts or inventory groups (comma-separated)'
            cand --forks 'Hosts worked on at once [default: 20]'
            cand --var 'Set a variable, overriding the playbook''s vars (repeatable)'
            cand --vars-file 'Read variables from a YAML file (a mapping), overriding the playbook''s vars'
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand --offline 'A fleet''s plan without reading its hosts: each host''s rollback target shows as its last verified release, unnamed'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;failover'= {
            cand --var 'Set a variable, overriding the playbook''s vars (repeatable)'
            cand --vars-file 'Read variables from a YAML file (a mapping), overriding the playbook''s vars'
            cand --wait-lock 'Wait this long for another run''s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)'
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand --dry-run 'Probe and show the decision and the steps that would run; change nothing'
            cand --now 'Skip the grace period and the hold-down, and probe rounds back to back'
            cand --watch 'Keep running: probe every `interval` and act as needed (a service, not cron)'
            cand --status 'Show the last transitions and any failover under way'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;check'= {
            cand --prom-file 'Also write the results as a node_exporter textfile, atomically'
            cand --timeout 'Give up on checks still running after this long: they are UNKNOWN [default: the playbook''s `timeout:`, else 60s]'
            cand --limit 'Only these hosts or inventory groups (comma-separated)'
            cand --forks 'Hosts worked on at once [default: 20]'
            cand --var 'Set a variable, overriding the playbook''s vars (repeatable)'
            cand --vars-file 'Read variables from a YAML file (a mapping), overriding the playbook''s vars'
            cand --wait-lock 'Wait this long for another run''s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)'
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand --no-notify 'Evaluate and print, but send no alert and record no alert state'
            cand --no-remedy 'Evaluate only: run no check''s `remedy:`'
            cand --per-host 'Across hosts, `--output nagios` prints a line per host, tab-separated for send_nsca/Icinga passive checks (HOST, SERVICE, CODE, OUTPUT), instead of one line for the fleet'
            cand --from-controller 'Run as the controller''s part on a host: the playbook comes on stdin, resolved'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;cleanup'= {
            cand -j 'Files compressed or archived at once [default: the number of CPUs (each host''s own, across hosts)]'
            cand --jobs 'Files compressed or archived at once [default: the number of CPUs (each host''s own, across hosts)]'
            cand --limit 'Only these hosts or inventory groups (comma-separated)'
            cand --forks 'Hosts worked on at once [default: 20]'
            cand --var 'Set a variable, overriding the playbook''s vars (repeatable)'
            cand --vars-file 'Read variables from a YAML file (a mapping), overriding the playbook''s vars'
            cand --wait-lock 'Wait this long for another run''s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)'
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand --dry-run 'List every action with the bytes it would reclaim; touch nothing'
            cand --from-controller 'Run as the controller''s part on a host: the playbook comes on stdin, resolved'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;drill'= {
            cand --report 'Write the game-day report (Markdown) to this file, atomically'
            cand --trip 'Check playbooks: also trip this check (its thresholds set so it fails) and send its alert for real, so the whole path from evaluation to inbox runs'
            cand --limit 'Only these hosts or inventory groups (comma-separated)'
            cand --forks 'Hosts worked on at once [default: 20]'
            cand --var 'Set a variable, overriding the playbook''s vars (repeatable)'
            cand --vars-file 'Read variables from a YAML file (a mapping), overriding the playbook''s vars'
            cand --wait-lock 'Wait this long for another run''s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)'
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand --yes 'Run it though the playbook has no `drill: { allowed: true }`'
            cand --dry-run 'Show the legs the drill would run (read from the hosts'' releases); touch nothing'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;validate'= {
            cand --var 'Set a variable, overriding the playbook''s vars (repeatable)'
            cand --vars-file 'Read variables from a YAML file (a mapping), overriding the playbook''s vars'
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand --strict-host 'Also refuse what is only true of this machine (a path or mount missing here), as a run would; without it these are warnings, for playbooks meant for other machines'
            cand --vars-complete 'Also refuse a variable no one defined; without it, it is named as required at run time (e.g. a deploy''s sha256, given with --var) and checked with a stand-in'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;history'= {
            cand --kind 'Only runs of this kind'
            cand --limit 'How many runs to list, newest first (at least 1)'
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand show 'Print one run''s timeline'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tend;history;show'= {
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;history;help'= {
            cand show 'Print one run''s timeline'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tend;history;help;show'= {
        }
        &'tend;history;help;help'= {
        }
        &'tend;completions'= {
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;schema'= {
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;man'= {
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;statvfs'= {
            cand --output 'How progress and results are shown: auto is human on a terminal, plain otherwise'
            cand --state-dir 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]'
            cand -q 'Print only problems (cron mails nothing on success)'
            cand --quiet 'Print only problems (cron mails nothing on success)'
            cand -v 'Show each step''s output lines'
            cand --verbose 'Show each step''s output lines'
            cand --no-color 'Never use colour (NO_COLOR is honoured too)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'tend;help'= {
            cand deploy 'Deploy a release: fetch, stop, migrate, configure, switch, start, verify; on any failure after stop, roll back to the last verified release and verify it'
            cand rollback 'Roll back to the previous (or a given) verified release, and verify it'
            cand releases 'List a deploy''s releases: which is current, which verified, which failed'
            cand plan 'Show what a playbook would do (steps, rollback, checks), touching nothing'
            cand failover 'The DNS failover SOP: probe the servers, fence the failed active, promote the standby, verify it answers'
            cand check 'Run threshold checks (CPU, memory, disk, load, processes, probes) with alerts'
            cand cleanup 'Compress, archive and expire files by rule; free a mount below a target'
            cand drill 'Rehearse a playbook''s failure path for real, timed: a deploy''s rollback and back, a failover and back, the alert path of checks; write the game-day report'
            cand validate 'Parse, type-check and template-check playbooks, with no side effects'
            cand history 'List past runs, or show one run''s timeline'
            cand completions 'Print a shell completion script'
            cand schema 'Print the JSON Schema of a playbook kind (or of any playbook), for editors'
            cand man 'Print the man page (roff)'
            cand statvfs 'statvfs one path and print the numbers: run by `tend check` as a child process for network and FUSE filesystems, so a hung mount cannot keep tend from exiting'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tend;help;deploy'= {
        }
        &'tend;help;rollback'= {
        }
        &'tend;help;releases'= {
        }
        &'tend;help;plan'= {
        }
        &'tend;help;failover'= {
        }
        &'tend;help;check'= {
        }
        &'tend;help;cleanup'= {
        }
        &'tend;help;drill'= {
        }
        &'tend;help;validate'= {
        }
        &'tend;help;history'= {
            cand show 'Print one run''s timeline'
        }
        &'tend;help;history;show'= {
        }
        &'tend;help;completions'= {
        }
        &'tend;help;schema'= {
        }
        &'tend;help;man'= {
        }
        &'tend;help;statvfs'= {
        }
        &'tend;help;help'= {
        }
    ]
    $completions[$command]
}

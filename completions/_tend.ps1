
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'tend' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'tend'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'tend' {
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('deploy', 'deploy', [CompletionResultType]::ParameterValue, 'Deploy a release: fetch, stop, migrate, configure, switch, start, verify; on any failure after stop, roll back to the last verified release and verify it')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Roll back to the previous (or a given) verified release, and verify it')
            [CompletionResult]::new('releases', 'releases', [CompletionResultType]::ParameterValue, 'List a deploy''s releases: which is current, which verified, which failed')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show what a playbook would do (steps, rollback, checks), touching nothing')
            [CompletionResult]::new('failover', 'failover', [CompletionResultType]::ParameterValue, 'The DNS failover SOP: probe the servers, fence the failed active, promote the standby, verify it answers')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Run threshold checks (CPU, memory, disk, load, processes, probes) with alerts')
            [CompletionResult]::new('cleanup', 'cleanup', [CompletionResultType]::ParameterValue, 'Compress, archive and expire files by rule; free a mount below a target')
            [CompletionResult]::new('drill', 'drill', [CompletionResultType]::ParameterValue, 'Rehearse a playbook''s failure path for real, timed: a deploy''s rollback and back, a failover and back, the alert path of checks; write the game-day report')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Parse, type-check and template-check playbooks, with no side effects')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'List past runs, or show one run''s timeline')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of a playbook kind (or of any playbook), for editors')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('statvfs', 'statvfs', [CompletionResultType]::ParameterValue, 'statvfs one path and print the numbers: run by `tend check` as a child process for network and FUSE filesystems, so a hung mount cannot keep tend from exiting')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tend;deploy' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Only these hosts or inventory groups (comma-separated)')
            [CompletionResult]::new('--forks', '--forks', [CompletionResultType]::ParameterName, 'Hosts worked on at once [default: 20]')
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'Set a variable, overriding the playbook''s vars (repeatable)')
            [CompletionResult]::new('--vars-file', '--vars-file', [CompletionResultType]::ParameterName, 'Read variables from a YAML file (a mapping), overriding the playbook''s vars')
            [CompletionResult]::new('--wait-lock', '--wait-lock', [CompletionResultType]::ParameterName, 'Wait this long for another run''s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the steps and the rollback plan (= `tend plan`); touch nothing')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;rollback' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The release to go back to [default: the last verified release before the current one]')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Only these hosts or inventory groups (comma-separated)')
            [CompletionResult]::new('--forks', '--forks', [CompletionResultType]::ParameterName, 'Hosts worked on at once [default: 20]')
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'Set a variable, overriding the playbook''s vars (repeatable)')
            [CompletionResult]::new('--vars-file', '--vars-file', [CompletionResultType]::ParameterName, 'Read variables from a YAML file (a mapping), overriding the playbook''s vars')
            [CompletionResult]::new('--wait-lock', '--wait-lock', [CompletionResultType]::ParameterName, 'Wait this long for another run''s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;releases' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Only these hosts or inventory groups (comma-separated)')
            [CompletionResult]::new('--forks', '--forks', [CompletionResultType]::ParameterName, 'Hosts worked on at once [default: 20]')
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'Set a variable, overriding the playbook''s vars (repeatable)')
            [CompletionResult]::new('--vars-file', '--vars-file', [CompletionResultType]::ParameterName, 'Read variables from a YAML file (a mapping), overriding the playbook''s vars')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;plan' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Only these hosts or inventory groups (comma-separated)')
            [CompletionResult]::new('--forks', '--forks', [CompletionResultType]::ParameterName, 'Hosts worked on at once [default: 20]')
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'Set a variable, overriding the playbook''s vars (repeatable)')
            [CompletionResult]::new('--vars-file', '--vars-file', [CompletionResultType]::ParameterName, 'Read variables from a YAML file (a mapping), overriding the playbook''s vars')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'A fleet''s plan without reading its hosts: each host''s rollback target shows as its last verified release, unnamed')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;failover' {
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'Set a variable, overriding the playbook''s vars (repeatable)')
            [CompletionResult]::new('--vars-file', '--vars-file', [CompletionResultType]::ParameterName, 'Read variables from a YAML file (a mapping), overriding the playbook''s vars')
            [CompletionResult]::new('--wait-lock', '--wait-lock', [CompletionResultType]::ParameterName, 'Wait this long for another run''s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Probe and show the decision and the steps that would run; change nothing')
            [CompletionResult]::new('--now', '--now', [CompletionResultType]::ParameterName, 'Skip the grace period and the hold-down, and probe rounds back to back')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Keep running: probe every `interval` and act as needed (a service, not cron)')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Show the last transitions and any failover under way')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;check' {
            [CompletionResult]::new('--prom-file', '--prom-file', [CompletionResultType]::ParameterName, 'Also write the results as a node_exporter textfile, atomically')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up on checks still running after this long: they are UNKNOWN [default: the playbook''s `timeout:`, else 60s]')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Only these hosts or inventory groups (comma-separated)')
            [CompletionResult]::new('--forks', '--forks', [CompletionResultType]::ParameterName, 'Hosts worked on at once [default: 20]')
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'Set a variable, overriding the playbook''s vars (repeatable)')
            [CompletionResult]::new('--vars-file', '--vars-file', [CompletionResultType]::ParameterName, 'Read variables from a YAML file (a mapping), overriding the playbook''s vars')
            [CompletionResult]::new('--wait-lock', '--wait-lock', [CompletionResultType]::ParameterName, 'Wait this long for another run''s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('--no-notify', '--no-notify', [CompletionResultType]::ParameterName, 'Evaluate and print, but send no alert and record no alert state')
            [CompletionResult]::new('--no-remedy', '--no-remedy', [CompletionResultType]::ParameterName, 'Evaluate only: run no check''s `remedy:`')
            [CompletionResult]::new('--per-host', '--per-host', [CompletionResultType]::ParameterName, 'Across hosts, `--output nagios` prints a line per host, tab-separated for send_nsca/Icinga passive checks (HOST, SERVICE, CODE, OUTPUT), instead of one line for the fleet')
            [CompletionResult]::new('--from-controller', '--from-controller', [CompletionResultType]::ParameterName, 'Run as the controller''s part on a host: the playbook comes on stdin, resolved')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;cleanup' {
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Files compressed or archived at once [default: the number of CPUs (each host''s own, across hosts)]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Files compressed or archived at once [default: the number of CPUs (each host''s own, across hosts)]')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Only these hosts or inventory groups (comma-separated)')
            [CompletionResult]::new('--forks', '--forks', [CompletionResultType]::ParameterName, 'Hosts worked on at once [default: 20]')
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'Set a variable, overriding the playbook''s vars (repeatable)')
            [CompletionResult]::new('--vars-file', '--vars-file', [CompletionResultType]::ParameterName, 'Read variables from a YAML file (a mapping), overriding the playbook''s vars')
            [CompletionResult]::new('--wait-lock', '--wait-lock', [CompletionResultType]::ParameterName, 'Wait this long for another run''s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'List every action with the bytes it would reclaim; touch nothing')
            [CompletionResult]::new('--from-controller', '--from-controller', [CompletionResultType]::ParameterName, 'Run as the controller''s part on a host: the playbook comes on stdin, resolved')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;drill' {
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Write the game-day report (Markdown) to this file, atomically')
            [CompletionResult]::new('--trip', '--trip', [CompletionResultType]::ParameterName, 'Check playbooks: also trip this check (its thresholds set so it fails) and send its alert for real, so the whole path from evaluation to inbox runs')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Only these hosts or inventory groups (comma-separated)')
            [CompletionResult]::new('--forks', '--forks', [CompletionResultType]::ParameterName, 'Hosts worked on at once [default: 20]')
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'Set a variable, overriding the playbook''s vars (repeatable)')
            [CompletionResult]::new('--vars-file', '--vars-file', [CompletionResultType]::ParameterName, 'Read variables from a YAML file (a mapping), overriding the playbook''s vars')
            [CompletionResult]::new('--wait-lock', '--wait-lock', [CompletionResultType]::ParameterName, 'Wait this long for another run''s lock instead of exiting with 75 (e.g. 30s); for `check`, for another run to finish updating the alert state (default 30s)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Run it though the playbook has no `drill: { allowed: true }`')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the legs the drill would run (read from the hosts'' releases); touch nothing')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;validate' {
            [CompletionResult]::new('--var', '--var', [CompletionResultType]::ParameterName, 'Set a variable, overriding the playbook''s vars (repeatable)')
            [CompletionResult]::new('--vars-file', '--vars-file', [CompletionResultType]::ParameterName, 'Read variables from a YAML file (a mapping), overriding the playbook''s vars')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('--strict-host', '--strict-host', [CompletionResultType]::ParameterName, 'Also refuse what is only true of this machine (a path or mount missing here), as a run would; without it these are warnings, for playbooks meant for other machines')
            [CompletionResult]::new('--vars-complete', '--vars-complete', [CompletionResultType]::ParameterName, 'Also refuse a variable no one defined; without it, it is named as required at run time (e.g. a deploy''s sha256, given with --var) and checked with a stand-in')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;history' {
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'Only runs of this kind')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many runs to list, newest first (at least 1)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print one run''s timeline')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tend;history;show' {
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;history;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print one run''s timeline')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tend;history;help;show' {
            break
        }
        'tend;history;help;help' {
            break
        }
        'tend;completions' {
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;schema' {
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;man' {
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;statvfs' {
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'How progress and results are shown: auto is human on a terminal, plain otherwise')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where run journals, locks and alert state live [env: TEND_STATE_DIR] [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only problems (cron mails nothing on success)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each step''s output lines')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Never use colour (NO_COLOR is honoured too)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'tend;help' {
            [CompletionResult]::new('deploy', 'deploy', [CompletionResultType]::ParameterValue, 'Deploy a release: fetch, stop, migrate, configure, switch, start, verify; on any failure after stop, roll back to the last verified release and verify it')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Roll back to the previous (or a given) verified release, and verify it')
            [CompletionResult]::new('releases', 'releases', [CompletionResultType]::ParameterValue, 'List a deploy''s releases: which is current, which verified, which failed')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show what a playbook would do (steps, rollback, checks), touching nothing')
            [CompletionResult]::new('failover', 'failover', [CompletionResultType]::ParameterValue, 'The DNS failover SOP: probe the servers, fence the failed active, promote the standby, verify it answers')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Run threshold checks (CPU, memory, disk, load, processes, probes) with alerts')
            [CompletionResult]::new('cleanup', 'cleanup', [CompletionResultType]::ParameterValue, 'Compress, archive and expire files by rule; free a mount below a target')
            [CompletionResult]::new('drill', 'drill', [CompletionResultType]::ParameterValue, 'Rehearse a playbook''s failure path for real, timed: a deploy''s rollback and back, a failover and back, the alert path of checks; write the game-day report')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Parse, type-check and template-check playbooks, with no side effects')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'List past runs, or show one run''s timeline')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of a playbook kind (or of any playbook), for editors')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('statvfs', 'statvfs', [CompletionResultType]::ParameterValue, 'statvfs one path and print the numbers: run by `tend check` as a child process for network and FUSE filesystems, so a hung mount cannot keep tend from exiting')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tend;help;deploy' {
            break
        }
        'tend;help;rollback' {
            break
        }
        'tend;help;releases' {
            break
        }
        'tend;help;plan' {
            break
        }
        'tend;help;failover' {
            break
        }
        'tend;help;check' {
            break
        }
        'tend;help;cleanup' {
            break
        }
        'tend;help;drill' {
            break
        }
        'tend;help;validate' {
            break
        }
        'tend;help;history' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print one run''s timeline')
            break
        }
        'tend;help;history;show' {
            break
        }
        'tend;help;completions' {
            break
        }
        'tend;help;schema' {
            break
        }
        'tend;help;man' {
            break
        }
        'tend;help;statvfs' {
            break
        }
        'tend;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}

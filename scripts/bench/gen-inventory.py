#!/usr/bin/env python3
"""Make a reproducible Ansible INI inventory for the inventory benchmark.

  gen-inventory.py DIR [HOSTS] [GROUPS]      default: 5,000 hosts in 200 groups

DIR/hosts: HOSTS hosts in GROUPS groups (each host in one group, a tenth also in a canary
group), a line of inline vars each, every group's [g:vars], the groups under 10 regions by
[region:children] and the regions under [prod:children]; DIR/group_vars/ one file per group,
region and all; DIR/host_vars/ a file for every tenth host. Same arguments, same tree."""
import os
import sys

out = sys.argv[1]
hosts = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
groups = int(sys.argv[3]) if len(sys.argv) > 3 else 200
os.makedirs(os.path.join(out, "group_vars"), exist_ok=True)
os.makedirs(os.path.join(out, "host_vars"), exist_ok=True)
lines = []
per = hosts // groups
for g in range(groups):
    lines.append(f"[app{g:03}]")
    for i in range(per):
        n = g * per + i
        lines.append(f"node{n:05}.dc1.example.com ansible_host=10.{n // 65536}.{n // 256 % 256}.{n % 256} "
                     f"ansible_port={2200 + n % 50} rack=r{n % 40} weight={n % 7}")
    lines.append(f"[app{g:03}:vars]\nservice=app{g:03}\nhttp_port={8000 + g}\n")
lines.append("[canary]")
lines += [f"node{n:05}.dc1.example.com" for n in range(0, hosts, 10)]
for r in range(10):
    lines.append(f"[region{r}:children]")
    lines += [f"app{g:03}" for g in range(r, groups, 10)]
    lines.append(f"[region{r}:vars]\nregion=region{r}\n")
lines.append("[prod:children]")
lines += [f"region{r}" for r in range(10)]
lines.append("[all:vars]\nansible_user=deploy\nntp=pool.ntp.org\n")
with open(os.path.join(out, "hosts"), "w") as f:
    f.write("\n".join(lines) + "\n")
for g in range(groups):
    with open(os.path.join(out, "group_vars", f"app{g:03}.yml"), "w") as f:
        f.write(f"owner: team{g % 17}\nlimits:\n  cpu: {g % 8 + 1}\n  memory: {g % 4 + 1}G\nenabled: yes\n")
for r in range(10):
    with open(os.path.join(out, "group_vars", f"region{r}.yml"), "w") as f:
        f.write(f"dns: [10.{r}.0.53, 10.{r}.1.53]\n")
with open(os.path.join(out, "group_vars", "all.yml"), "w") as f:
    f.write("environment_name: production\nlog_level: info\n")
for n in range(0, hosts, 10):
    with open(os.path.join(out, "host_vars", f"node{n:05}.dc1.example.com.yml"), "w") as f:
        f.write(f"canary: true\nserial: {n}\n")

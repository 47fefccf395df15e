//! The analyser's rules on their own (the required table runs through the daemon, in
//! `tests/tests/policy.rs`; this one is for quick iteration on the rules).

use super::*;

const CWD: &str = "/srv/app";

fn shell(cmd: &str) -> Option<String> {
    decide(&Request {
        shell: Some(cmd.into()),
        argv: vec!["sh".into(), "-c".into(), cmd.into()],
        command_type: "shell".into(),
        cwd: CWD.into(),
        is_safe: true,
        vars: vec![
            ("HOME".into(), "/home/alice".into()),
            ("BUILD".into(), "build".into()),
            ("ROOT".into(), "/".into()),
            ("FLAGS".into(), "-rf /".into()),
        ],
        ..Request::default()
    })
}

#[test]
fn denied() {
    let cases: &[(&str, &str)] = &[
        ("rm -rf /", "recursive delete of /"),
        ("rm -rf /*", "everything in /"),
        ("rm -r -f ~", "home dir"),
        ("rm -rf $HOME", "home dir"),
        ("rm -rf ~/", "home dir"),
        ("rm -rf ../other", "outside the working dir"),
        ("rm -rf build/../..", "system dir /srv"),
        ("rm -rf build/../../other", "outside the working dir"),
        ("rm -rf /tmp/x", "outside the working dir"),
        ("rm --recursive --force /", "recursive delete of /"),
        ("r\\m -rf '/'", "recursive delete of /"),
        ("/bin/rm -rf -- /", "recursive delete of /"),
        ("sudo rm -rf /", "recursive delete of /"),
        ("echo hi; rm -rf /", "recursive delete of /"),
        ("true && rm -rf /", "recursive delete of /"),
        ("false || rm -rf /", "recursive delete of /"),
        ("X=/; rm -rf $X", "recursive delete of /"),
        ("rm -rf \"$ROOT\"", "recursive delete of /"),
        ("rm $FLAGS", "recursive delete of /"),
        ("rm -rf $NOPE", "cannot be resolved"),
        ("cd / && rm -rf *", "everything in /"),
        ("cd /tmp; rm -rf *", "everything in the system dir /tmp"),
        ("cd /opt/x; rm -rf *", "outside the working dir"),
        ("bash -c 'rm -rf /'", "recursive delete of /"),
        ("sh -c \"cd / && rm -rf *\"", "everything in /"),
        ("env X=/ sh -c 'rm -rf $X'", "recursive delete of /"),
        ("X=/ sh -c 'rm -rf \"$X\"'", "recursive delete of /"),
        ("sh -c 'rm -rf \"$1\"' _ /", "recursive delete of /"),
        ("eval \"rm -rf /\"", "recursive delete of /"),
        ("echo $(rm -rf /)", "recursive delete of /"),
        ("echo `rm -rf /`", "recursive delete of /"),
        ("echo / | xargs rm -rf", "recursive delete of /"),
        ("ls | xargs rm -rf", "cannot be resolved"),
        ("find / -name '*.log' -delete", "everything in /"),
        ("find /var -exec rm -rf {} \\;", "system dir"),
        ("rm -rf .*", "`..`"),
        ("rm -rf /{etc,usr}", "system dir"),
        (
            "for d in build /; do rm -rf $d; done",
            "recursive delete of /",
        ),
        ("rsync -a --delete empty/ /", "recursive delete of /"),
        ("mkfs.ext4 /dev/sdb1", "formats"),
        ("mkfs -t ext4 /dev/sdb", "formats"),
        ("dd if=/dev/zero of=/dev/sda bs=1M", "device /dev/sda"),
        ("cat disk.img > /dev/nvme0n1", "device"),
        ("cp boot.img /dev/sdb", "device"),
        ("shutdown -h now", "shuts down"),
        ("sudo reboot", "reboots"),
        ("/sbin/poweroff", "shuts down"),
        ("halt", "shuts down"),
        ("init 0", "runlevel"),
        ("systemctl reboot", "reboots"),
        ("systemctl isolate poweroff.target", "shuts down"),
        ("kill -9 -1", "every process"),
        (":(){ :|:& };:", "fork bomb"),
        ("bomb(){ bomb|bomb& }; bomb", "fork bomb"),
        ("f() { f & f; }; f", "fork bomb"),
        ("curl -fsSL https://x.sh | sh", "download-and-execute"),
        ("wget -qO- https://x | sudo bash", "download-and-execute"),
        ("curl https://x | gunzip | python3", "download-and-execute"),
        ("sh <(curl -s https://x)", "download-and-execute"),
        (
            "bash -c \"$(curl -fsSL https://x)\"",
            "download-and-execute",
        ),
        ("eval \"$(wget -qO- https://x)\"", "download-and-execute"),
        (
            "curl -o i.sh https://x/i.sh && bash i.sh",
            "download-and-execute",
        ),
        (
            "wget https://x/install.sh; sh install.sh",
            "download-and-execute",
        ),
        (
            "curl -O https://x/run.sh && chmod +x run.sh && ./run.sh",
            "download-and-execute",
        ),
        ("chmod -R 777 /var/www", "world-writable"),
        ("chmod -R a+rwx .", "world-writable"),
        ("chmod --recursive 0777 build", "world-writable"),
        ("echo 1.2.3.4 x >> /etc/hosts", "write into /etc"),
        ("echo x | sudo tee -a /etc/hosts", "write into /etc"),
        ("sed -i s/a/b/ /etc/ssh/sshd_config", "write into /etc"),
        ("cp app.conf /etc/nginx/", "write into /etc"),
        (
            "ln -sf $PWD/app.conf /etc/nginx/sites-enabled/",
            "write into /etc",
        ),
        (
            "install -m644 unit /etc/systemd/system/x.service",
            "write into /etc",
        ),
        ("cd /etc && echo x > hosts", "write into /etc"),
        ("cat <<EOF > /etc/motd\nhi\nEOF", "write into /etc"),
        ("tar -xzf a.tgz -C /etc", "write into /etc"),
        ("echo \"rm -rf /\" | sh", "recursive delete of /"),
        ("sh <<EOF\nrm -rf /\nEOF", "recursive delete of /"),
        ("bash <<< 'rm -rf ~'", "home dir"),
        ("$CMD -rf /", "cannot tell which program"),
        ("rm${IFS}-rf${IFS}/", "cannot tell which program"),
        ("echo 'unterminated", "cannot parse"),
        ("cat x | sh", "cannot be inspected"),
        ("echo hi > $LOG", "cannot be resolved"),
        ("cat <<EOF\n$(rm -rf /)\nEOF", "recursive delete of /"),
        ("env -C / rm -rf *", "everything in /"),
        ("(cd / && rm -rf *)", "everything in /"),
        ("timeout 5 rm -rf /", "recursive delete of /"),
        ("nohup nice -n 5 rm -rf / &", "recursive delete of /"),
        ("rm -rf .", "whole working dir"),
        ("rm -rf \"$(pwd)\"", "whole working dir"),
        ("$'\\x72m' -rf /", "recursive delete of /"),
        ("{rm,-rf,/}", "recursive delete of /"),
        ("r=r; m=m; $r$m -rf /", "recursive delete of /"),
        ("$(echo rm) -rf /", "recursive delete of /"),
        ("rm -rf \\\n/", "recursive delete of /"),
        ("rm -rf //", "recursive delete of /"),
        ("cd; rm -rf *", "home dir"),
        ("cd ~ && rm -rf .", "home dir"),
        ("rm -rf ~root", "home dir"),
        ("find / -type f | xargs -I{} rm -rf {}", "everything in /"),
        ("sh -c 'eval \"$1\"' _ 'rm -rf /'", "recursive delete of /"),
        ("echo cm0gLXJmIC8K | base64 -d | sh", "cannot be inspected"),
        ("trap 'rm -rf /' EXIT", "recursive delete of /"),
        ("alias x='rm -rf /'", "recursive delete of /"),
        ("echo 'rm -rf ~' | at now", "home dir"),
        ("mv ~ /dev/null", "home dir"),
        ("chown -R nobody /", "recursive chown of /"),
        ("function f { f | f & }; f", "fork bomb"),
        ("busybox rm -rf /", "recursive delete of /"),
        ("/usr/bin/env rm -rf /", "recursive delete of /"),
        ("truncate -s 0 /dev/sda", "device /dev/sda"),
    ];
    let mut failures = Vec::new();
    for (cmd, expect) in cases {
        match shell(cmd) {
            Some(reason) if reason.contains(expect) => {}
            other => failures.push(format!(
                "{cmd:?}: expected a denial containing {expect:?}, got {other:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn allowed() {
    let cases: &[&str] = &[
        "rm -rf ./build",
        "rm -rf build dist",
        "rm -rf \"$BUILD\"",
        "rm -rf *",
        "rm -f app.pid",
        "echo \"rm -rf /\"",
        "echo 'rm -rf /' > notes.txt",
        "echo '$(rm -rf /)'",
        "grep shutdown log.txt",
        "grep -r reboot .",
        "make clean",
        "cargo build --release",
        "systemctl restart nginx",
        "find . -name '*.pyc' -delete",
        "find . -type f -name '*.o' -exec rm -f {} +",
        "find . -name '*.tmp' | xargs rm -f",
        "for d in build dist; do rm -rf $d; done",
        "cd build && rm -rf *",
        "X=build; rm -rf \"$X\"",
        "dd if=/dev/zero of=./disk.img bs=1M count=10",
        "echo done > /dev/null 2>&1",
        "chmod 755 run.sh",
        "chmod -R 755 build",
        "chmod +x run.sh",
        "cat /etc/hosts",
        "cp /etc/hosts ./hosts.bak",
        "sed s/a/b/ /etc/hosts > out.txt",
        "sed -i s/a/b/ config.yml",
        "curl -fsSL https://example.com/health",
        "curl -o data.json https://x/data.json && jq . data.json",
        "wget -q https://x/file.tgz && tar xzf file.tgz",
        "greet(){ echo hi; }; greet",
        "kill -HUP 1234",
        "python3 manage.py migrate",
        "python3 -c 'print(1)'",
        "bash scripts/deploy.sh",
        "sh -c 'echo hi && ls -la'",
        "git pull && npm ci && npm run build",
        "tar -czf backup.tgz data",
        "if [ -d build ]; then rm -rf build; fi",
        "[[ $X > 5 ]] && echo big",
        "echo ok | tee -a deploy.log",
        "ln -sf current/app.conf app.conf",
        "touch .restart",
        "sleep 2; curl -sf http://127.0.0.1:8080/health",
        "echo hi # ; rm -rf /",
        "mv build/app.new build/app",
        "trap 'rm -f app.pid' EXIT",
        "find . -type f | xargs -I{} rm -f {}",
        "ssh deploy@host 'systemctl reboot'",
    ];
    let mut failures = Vec::new();
    for cmd in cases {
        if let Some(reason) = shell(cmd) {
            failures.push(format!("{cmd:?}: denied: {reason}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn declarations() {
    let base = Request {
        argv: vec!["make".into(), "clean".into()],
        command_type: "make".into(),
        cwd: CWD.into(),
        is_safe: true,
        ..Request::default()
    };
    assert_eq!(decide(&base), None);
    let prod = Request {
        production: true,
        ..base.clone()
    };
    assert!(decide(&prod).unwrap().contains("allowed_in_production"));
    let prod_ok = Request {
        allowed_in_production: true,
        ..prod
    };
    assert_eq!(decide(&prod_ok), None);
    let unsafe_ = Request {
        is_safe: false,
        ..base.clone()
    };
    assert!(decide(&unsafe_).unwrap().contains("is_safe: false"));
    let allowed = Request {
        allow_unsafe: true,
        ..unsafe_
    };
    assert_eq!(decide(&allowed), None);
    let exec = Request {
        argv: vec!["rm".into(), "-rf".into(), "/".into()],
        command_type: "exec".into(),
        ..base.clone()
    };
    assert!(decide(&exec).unwrap().contains("recursive delete of /"));
    // exec: no shell, so `;` is an argument.
    let literal = Request {
        argv: vec![
            "echo".into(),
            "hi;".into(),
            "rm".into(),
            "-rf".into(),
            "/".into(),
        ],
        command_type: "exec".into(),
        ..base.clone()
    };
    assert_eq!(decide(&literal), None);
    let bad = Request {
        command_type: "perl".into(),
        ..base
    };
    assert!(decide(&bad).unwrap().contains("unknown command type"));
}

// Package imageprep is "kaizen image prepare": the one step of ours that the
// golden-image build runs on the build instance, so that no release logic
// lives in the buildspec, the Packer template or the Ansible playbook.
//
// It does four things, in this order, and stops at the first failure
// without writing anything:
//
//  1. It works out the advisory list to apply: the ids the build was started
//     with (--advisories, the SECURITY_ADVISORIES that kaizen sends) plus the
//     app's baseline (--advisories-from): every advisory an earlier build of
//     the app applied and its base image did not already carry, and the
//     newest Amazon Linux 2023 release an earlier build upgraded to. kaizen's
//     alaspoll sends only the advisories that are new since its last build,
//     and a secret rebuild sends none; the baseline is what keeps the next
//     image, built from a fresh base AMI, from losing a fix.
//  2. It applies them with the package manager of the image (Amazon Linux 2:
//     yum update -y --advisory=ID...; Amazon Linux 2023: dnf upgrade -y
//     --releasever=VER --advisory=ID..., or the release upgrade alone), then
//     verifies with updateinfo that every advisory is installed: listed by
//     "updateinfo list --installed" (the installed packages are at or past
//     the fixed versions) and not by "updateinfo list --available" (no
//     package of it is still older than its fix). An advisory that is not
//     installed fails the build, naming it, unless --allow-missing.
//  3. It renders the app's secret (Secrets Manager or a file) with
//     shared/envfile into /etc/profile.d/<app>.sh (shell) and /etc/<app>/env
//     (systemd EnvironmentFile=), owned by the app's group, mode 0640.
//     Reserved names are refused; values never reach the build log.
//  4. It writes /etc/kaizen/image.json (what was verified, the release, the
//     secret's version id; never a value), saves the new baseline
//     (--advisories-to), and prints the AMI tags to set as KEY=VALUE lines
//     on standard output. Everything else it says goes to standard error.
//
// With --dry-run it only prints, one per line, the commands it would run.
package imageprep

// SPDX-License-Identifier: BSD-2-Clause
/*
 * aicert-trace - run a command traced and write a bundle that says which files it read, executed
 * and wrote, with their SHA-256 digests.
 *
 * The command runs in a cgroup of its own, joined before it executes anything, so every process it
 * starts (threads, children, double-forked daemons) is in scope and nothing outside is.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/hex.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/manifest.h"
#include "lib/policy.h"
#include "trace/access.h"
#include "trace/cgroup.h"
#include "trace/eventlog.h"
#include "trace/hashcache.h"
#include "trace/hostopts.h"
#include "trace/client.h"
#include "trace/run.h"

#define EXIT_AICERT 125 /* as env(1): aicert itself failed */
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127
#define DEFAULT_CACHE_DIR "/var/lib/aicert/cache"

struct opts {
	const char *out, *policy, *cache_dir, *tcti, *state_dir;
	const char *socket;   /* --socket: aicertd's, which must answer */
	const char *host_opt; /* the first option given that is aicertd's to decide ("--tcti") */
	int standalone;	      /* --standalone: trace in this process even when aicertd answers */
	enum access_backend backend;
	int jobs, no_tpm, strict, pcr, verbosity, detach_timeout; /* seconds, -1: none */
	int allow_resettable, batch_hz, tpm_timeout; /* seconds; 0: the default */
	struct tpm_ak_opts ak;
	uint8_t nonce[MANIFEST_NONCE_MAX];
	size_t nonce_len;
	char **argv;
};

static volatile pid_t child_pid;
static volatile sig_atomic_t stop_signal; /* a terminating signal (INT, TERM, HUP, QUIT) came */
static volatile sig_atomic_t finishing;   /* the command is gone: aicert is writing the bundle */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: aicert-trace [OPTIONS] -- COMMAND [ARGS...]\n"
"Run COMMAND, record every file its process tree opens, executes, maps or writes, hash each\n"
"one with SHA-256 and write a bundle (bom.json) saying which files went in and came out.\n"
"Exits with COMMAND's exit status (128+N when a signal N killed it); 125 when aicert itself\n"
"fails, 126 when COMMAND cannot be executed, 127 when it is not found (as env(1) does).\n"
"\n"
"Options:\n"
"  -o, --out DIR          write the bundle into DIR (must be empty or absent). It is written\n"
"                         into DIR.partial-<id> and renamed to DIR once complete and checked\n"
"                         with aicert-verify's own checks. Default: ./aicert-<date>-<time>-<id>\n"
"  -p, --policy FILE      policy (excludes, categories) in YAML; default: the built-in copy of\n"
"                         policy/default.yaml\n"
"      --backend B        auto (default) | lsm | tracepoint. auto uses BPF LSM hooks when the\n"
"                         kernel has \"bpf\" in /sys/kernel/security/lsm and falls back to\n"
"                         tracepoints; bom.json says which one ran\n"
"      --tcti TCTI        TPM to use (default: $TPM2TOOLS_TCTI, then device:/dev/tpmrm0)\n"
"      --no-tpm           write an unattested bundle: the event log is kept as a software hash\n"
"                         chain, nothing is extended or quoted; said loudly\n"
"      --pcr N            dedicated PCR (default 15). 16 and 23 can be reset by software, so\n"
"                         a bundle bound to them proves nothing: they are refused unless\n"
"                         --allow-resettable-pcr is given as well\n"
"      --nonce HEX        a verifier's nonce (up to 64 bytes): recorded in the run's run_start\n"
"                         record and bound into the TPM quote, so aicert-verify --nonce\n"
"                         proves the run began after the challenge was issued\n"
"      --tpm-timeout S    fail when the TPM does not answer a command within S seconds\n"
"                         (default 60): a stopped or hung TPM never hangs the run\n"
"      --ak-alg ecc|rsa   the attestation key: ECC P-256 (default) or RSA 2048; created once\n"
"                         and kept in the TPM at --ak-handle (default 0x81010020)\n"
"      --state-dir DIR    where the host's event log lives: DIR/<boot id>/events.cel\n"
"                         (default " EVLOG_STATEDIR ")\n"
"      --extend-rate N    at most N batched PCR extends per second during the run (default 10)\n"
"  -j, --jobs N           hash with N threads (default: all cores)\n"
"      --cache DIR        persistent hash cache (default " DEFAULT_CACHE_DIR "): files whose\n"
"                         (device, inode, size, mtime, ctime) did not change are not re-read.\n"
"                         A cache that cannot be used or saved fails the run (exit 125)\n"
"      --no-cache         hash everything, keep no cache\n"
"      --detach-timeout S stop waiting S seconds after COMMAND exited for the processes it\n"
"                         left behind (daemons); the bundle then says the run was detached.\n"
"                         Default: wait until every process of the run has exited\n"
"      --strict           exit 125 (when COMMAND succeeded) if any event was lost, any path was\n"
"                         truncated or any file could not be hashed\n"
"      --socket PATH      trace through the aicertd listening on PATH (default\n"
"                         $AICERT_SOCKET, else " IPC_SOCKET_DEFAULT "); it must answer\n"
"      --standalone       trace in this process (root) even when aicertd answers\n"
"  -v, --verbose          debug messages, libbpf's included\n"
"  -q, --quiet            only errors\n"
"  -h, --help             this text\n"
"      --version          print the version\n"
"\n"
"\n"
"Through aicertd: when aicertd answers on its socket, the run goes through it and needs no\n"
"root. aicertd places COMMAND in a cgroup of its own before it executes anything, traces it,\n"
"and sends the bundle back; -o DIR gets it with your ownership. COMMAND stays this\n"
"program's child (terminal, environment, signals and exit status as without aicertd).\n"
"The options that describe the host (--backend, --tcti, --no-tpm, --pcr, --state-dir,\n"
"--cache, --no-cache, --ak-*, --extend-rate, --tpm-timeout) are then aicertd's: given\n"
"with a daemon running, they are refused. When no aicertd answers (and neither --socket\n"
"nor $AICERT_SOCKET names one), the run is traced in this process, which needs root\n"
"(CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN) to load the BPF programs.\n"
"Example: sudo aicert-trace -o run1 -- python3 train.py --epochs 3\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_BACKEND = 256, O_TCTI, O_NOTPM, O_PCR, O_CACHE, O_NOCACHE, O_STRICT, O_DETACH,
	       O_VERSION, O_RESETTABLE, O_NONCE, O_STATE, O_RATE, O_AKALG, O_AKHANDLE,
	       O_TPMTIMEOUT, O_SOCKET, O_STANDALONE };
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "policy", required_argument, NULL, 'p' },
		{ "backend", required_argument, NULL, O_BACKEND },
		{ "tcti", required_argument, NULL, O_TCTI },
		{ "no-tpm", no_argument, NULL, O_NOTPM },
		{ "pcr", required_argument, NULL, O_PCR },
		{ "allow-resettable-pcr", no_argument, NULL, O_RESETTABLE },
		{ "nonce", required_argument, NULL, O_NONCE },
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "extend-rate", required_argument, NULL, O_RATE },
		{ "ak-alg", required_argument, NULL, O_AKALG },
		{ "ak-handle", required_argument, NULL, O_AKHANDLE },
		{ "tpm-timeout", required_argument, NULL, O_TPMTIMEOUT },
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "standalone", no_argument, NULL, O_STANDALONE },
		{ "jobs", required_argument, NULL, 'j' },
		{ "cache", required_argument, NULL, O_CACHE },
		{ "no-cache", no_argument, NULL, O_NOCACHE },
		{ "strict", no_argument, NULL, O_STRICT },
		{ "detach-timeout", required_argument, NULL, O_DETACH },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	int c, li = -1;

	o->backend = ACCESS_BACKEND_AUTO;
	o->pcr = 15;
	o->verbosity = LOG_INFO;
	o->detach_timeout = -1;
	o->cache_dir = DEFAULT_CACHE_DIR;
	/* "+": options end at the command, so its own options are left alone */
	while ((c = getopt_long(argc, argv, "+o:p:j:vqh", longopts, &li)) != -1) {
		/* the host's TPM, PCR, log, cache and backend are aicertd's when it traces */
		if (li >= 0 && !o->host_opt &&
		    (c == O_BACKEND || c == O_TCTI || c == O_NOTPM || c == O_PCR || c == O_RESETTABLE ||
		     c == O_STATE || c == O_AKALG || c == O_AKHANDLE || c == O_TPMTIMEOUT ||
		     c == O_RATE || c == O_CACHE || c == O_NOCACHE))
			o->host_opt = longopts[li].name;
		li = -1;
		switch (c) {
		case O_SOCKET: o->socket = optarg; break;
		case O_STANDALONE: o->standalone = 1; break;
		case 'o': o->out = optarg; break;
		case 'p': o->policy = optarg; break;
		case O_BACKEND:
			if (hostopt_backend("", optarg, &o->backend))
				return -1;
			break;
		case O_TCTI: o->tcti = optarg; break;
		case O_NOTPM: o->no_tpm = 1; break;
		case O_PCR:
			if (hostopt_pcr("", optarg, &o->pcr))
				return -1;
			break;
		case O_RESETTABLE: o->allow_resettable = 1; break;
		case O_STATE: o->state_dir = optarg; break;
		case O_AKALG:
			if (hostopt_ak_alg("", optarg, &o->ak.alg))
				return -1;
			break;
		case O_AKHANDLE:
			if (hostopt_ak_handle("", optarg, &o->ak.handle))
				return -1;
			break;
		case O_TPMTIMEOUT:
			if (hostopt_tpm_timeout("", optarg, &o->tpm_timeout))
				return -1;
			break;
		case O_RATE:
			if (hostopt_extend_rate("", optarg, &o->batch_hz))
				return -1;
			break;
		case O_NONCE:
			o->nonce_len = strlen(optarg) / 2;
			if (o->nonce_len == 0 || o->nonce_len > sizeof(o->nonce) || strlen(optarg) % 2 ||
			    hex_decode(optarg, o->nonce, o->nonce_len)) {
				log_err("--nonce: '%s' is not 1 to %zu bytes of hex", optarg,
					sizeof(o->nonce));
				return -1;
			}
			break;
		case 'j':
			if (hostopt_jobs("", optarg, &o->jobs))
				return -1;
			break;
		case O_CACHE: o->cache_dir = optarg; break;
		case O_NOCACHE: o->cache_dir = NULL; break;
		case O_STRICT: o->strict = 1; break;
		case O_DETACH:
			if (hostopt_int(optarg, 0, INT_MAX / 1000, &o->detach_timeout)) {
				log_err("--detach-timeout: '%s' is not a number of seconds", optarg);
				return -1;
			}
			break;
		case 'v': o->verbosity = LOG_DEBUG; break;
		case 'q': o->verbosity = LOG_QUIET; break;
		case 'h': usage(stdout); exit(0);
		case O_VERSION: printf("aicert-trace %s\n", AICERT_VERSION); exit(0);
		default:
			fprintf(stderr, "Try 'aicert-trace --help'.\n");
			return -1;
		}
	}
	if (optind >= argc) {
		log_err("no command given; usage: aicert-trace [OPTIONS] -- COMMAND [ARGS...]");
		return -1;
	}
	o->argv = argv + optind;
	/* checked here, not seconds later after the BPF programs are loaded */
	if (tpm_pcr_check((uint32_t)o->pcr, o->allow_resettable))
		return -1;
	return 0;
}

/* CAP_BPF (39) and CAP_PERFMON (38) are newer than some headers; CAP_SYS_ADMIN covers both. */
static int privileged(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return geteuid() == 0;
	return (data[0].effective >> 21) & 1; /* CAP_SYS_ADMIN: needed for the cgroup as well */
}

/*
 * Forward signals sent to aicert to the command; a terminal's ^C already reached it. USR1/USR2
 * (e.g. checkpoint requests) are only forwarded. A second terminating signal while the bundle
 * is being written means "stop now": aicert dies of it.
 */
static void on_signal(int sig, siginfo_t *si, void *uc)
{
	int terminating = sig != SIGUSR1 && sig != SIGUSR2;

	if (terminating && finishing && stop_signal) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	if (terminating)
		stop_signal = sig;
	if (child_pid > 0 && si->si_code <= 0)
		kill(child_pid, sig);
}

static const int fwd_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void signals_install(void)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fwd_signals) / sizeof(fwd_signals[0]); i++)
		sigaction(fwd_signals[i], &sa, NULL);
	/* a closed stderr must not kill aicert before the bundle is written */
	signal(SIGPIPE, SIG_IGN);
}

static void signals_reset(void)
{
	for (size_t i = 0; i < sizeof(fwd_signals) / sizeof(fwd_signals[0]); i++)
		signal(fwd_signals[i], SIG_DFL);
	signal(SIGPIPE, SIG_DFL); /* SIG_IGN would survive execve */
}

/* What the child reports through the pipe when it could not become the command. */
struct spawn_err {
	int stage; /* 1: joining the run's cgroup, 2: execve */
	int err;
};

/*
 * Forks the command into the run's cgroup. The child joins the cgroup before it executes
 * anything; an exec failure travels back through a close-on-exec pipe. Returns the pid or -1.
 */
static pid_t spawn(const struct opts *o, const struct run_cgroup *cg, struct spawn_err *se)
{
	struct spawn_err e = { 0 };
	int pfd[2];
	pid_t pid;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC)) {
		log_err("cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_err("cannot fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		signals_reset();
		/* aicert's own descriptors (the TPM's among them) are not the command's business */
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		e.stage = 1;
		e.err = -run_cgroup_join(cg);
		if (!e.err) {
			e.stage = 2;
			execvp(o->argv[0], o->argv);
			e.err = errno;
		}
		n = write(pfd[1], &e, sizeof(e));
		(void)n;
		_exit(e.stage == 1 ? EXIT_AICERT
		      : e.err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
	}
	close(pfd[1]);
	child_pid = pid;
	if (stop_signal) /* it came between the last check and child_pid */
		kill(pid, stop_signal);
	do
		n = read(pfd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	*se = n == sizeof(e) ? e : (struct spawn_err){ 0 };
	return pid;
}

static int wait_child(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, 0);
	while (r < 0 && errno == EINTR);
	return r == pid ? 0 : -1;
}

/* After the command exited: wait until the processes it left behind are gone too. */
static int wait_rest(const struct opts *o, const struct run_cgroup *cg)
{
	int r, waited = 0, limit = o->detach_timeout < 0 ? -1 : o->detach_timeout * 1000;

	r = run_cgroup_empty(cg);
	if (r != 0)
		return 0;
	log_info("the command exited; waiting for the processes it left behind%s",
		 limit < 0 ? " (--detach-timeout S stops waiting)" : "");
	for (;;) {
		int step = limit < 0 ? 1000 : (limit - waited < 1000 ? limit - waited : 1000);

		r = run_cgroup_wait_empty(cg, step);
		if (r == 1)
			return 0;
		if (r < 0 && r != -EINTR)
			return 0;
		waited += step;
		if (stop_signal || (limit >= 0 && waited >= limit)) {
			log_warn("stopped waiting for the run's remaining processes: the bundle "
				 "is marked detached");
			return 1;
		}
	}
}

/* Before the BPF programs load: a missing TPM, a full disk or an unsafe TPM clock is told at once,
 * each by its own cause (evlog_open logs it). */
static int open_log(const struct opts *o, struct evlog **ev)
{
	struct evlog_opts eo = {
		.statedir = o->state_dir, .tcti = o->tcti, .pcr = (uint32_t)o->pcr,
		.allow_resettable = o->allow_resettable, .no_tpm = o->no_tpm,
		.batch_hz = (unsigned)o->batch_hz, .ak = o->ak,
		.tpm_timeout_ms = o->tpm_timeout * 1000,
	};
	int e = evlog_open(&eo, ev);

	if (e == -ENODEV && !o->no_tpm)
		log_err("no usable TPM; use --tcti to name one, or --no-tpm for an unattested "
			"bundle");
	return e ? -1 : 0;
}

static struct policy *load_policy(const struct opts *o)
{
	struct policy *p;
	char err[512];

	if (o->policy) {
		if (!(p = policy_load(o->policy, err, sizeof(err))))
			log_err("%s", err);
	} else if (!(p = policy_default())) {
		log_err("cannot load the built-in policy");
	}
	return p;
}

static int open_cache(const struct opts *o, struct hashcache **out)
{
	int e = 0;

	*out = NULL;
	if (!o->cache_dir)
		return 0;
	*out = hashcache_open(o->cache_dir, &e);
	if (*out && access(o->cache_dir, W_OK))
		e = errno;
	if (!*out || e) {
		log_err("the hash cache %s is unusable (%s); --no-cache hashes without one",
			o->cache_dir, strerror(e < 0 ? -e : e));
		return -1;
	}
	return 0;
}

/* What the process holds once: the policy, the hash cache, the host log, the BPF programs. */
static int open_host(const struct opts *o, struct policy **policy, struct run_host *h)
{
	int e = 0;

	if (!privileged()) {
		log_err("aicert must run as root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN) to trace; "
			"try: sudo aicert-trace ...");
		return -1;
	}
	if (!(*policy = load_policy(o)) || open_cache(o, &h->cache) || open_log(o, &h->ev))
		return -1;
	h->tcti = o->tcti;
	h->allow_resettable = o->allow_resettable;
	h->access = access_open(&(struct access_opts){ .backend = o->backend }, &e);
	return h->access ? 0 : -1;
}

static void on_record(const void *rec, size_t len, void *ctx)
{
	run_on_record(ctx, rec, len);
}

static void close_host(struct run_host *h, struct policy *policy)
{
	if (h->access)
		access_stop(h->access);
	evlog_close(h->ev);
	access_close(h->access);
	hashcache_close(h->cache);
	policy_free(policy);
}

/* The command's run, from its spawn to its bundle; the exit status aicert-trace returns. */
static int trace(const struct opts *o, struct run *r, struct run_host *h)
{
	struct run_result res;
	struct spawn_err se;
	int status = 0, detached;
	pid_t pid;

	if (access_start(h->access, on_record, r)) {
		log_err("cannot start draining the ring buffer");
		return EXIT_AICERT;
	}
	if (stop_signal) {
		log_err("interrupted (%s) before the command started; nothing was run",
			strsignal(stop_signal));
		return 128 + stop_signal;
	}
	/* fds 0-2 are all the command inherits (spawn closes the rest): files among them count */
	run_inherit_fds(r, 0, 3);
	pid = spawn(o, run_cg(r), &se);
	if (pid < 0)
		return EXIT_AICERT;
	run_set_root(r, pid);
	if (wait_child(pid, &status)) {
		log_err("lost track of the command: %s", strerror(errno));
		return EXIT_AICERT;
	}
	child_pid = 0;
	finishing = 1;
	if (se.stage == 1) {
		log_err("cannot move the command into the run's cgroup %s: %s", run_cg(r)->path,
			strerror(se.err));
		return EXIT_AICERT;
	}
	if (se.stage == 2)
		log_err("cannot run '%s': %s", o->argv[0], strerror(se.err));
	detached = wait_rest(o, run_cg(r));
	access_stop(h->access);
	if (run_finish(r, &(struct run_end_info){ .status = status, .detached = detached }, &res))
		return EXIT_AICERT;
	if (res.cache_failed) {
		log_err("the bundle is complete, but the hash cache %s could not be saved: exit %d",
			o->cache_dir, EXIT_AICERT);
		return EXIT_AICERT;
	}
	if (o->strict && res.strict_fail && res.exit_status == 0) {
		log_err("--strict: the record is incomplete (lost events, truncated paths, "
			"unmeasured files or a detached run)");
		return EXIT_AICERT;
	}
	return res.exit_status;
}

/*
 * When aicertd answers on its socket, the run goes through it (no root needed): returns the
 * exit status. -1: no daemon answers and none was named, so the run is traced in this process.
 */
static int through_daemon(const struct opts *o)
{
	const char *env = getenv("AICERT_SOCKET"), *path = ipc_socket_path(o->socket);
	bool named = o->socket || (env && *env);
	int st = EXIT_AICERT, e, fd;

	if (o->host_opt) {
		/* an option that only an in-process run can honour: is there a daemon to refuse it? */
		fd = ipc_connect(path);
		if (fd >= 0) {
			close(fd);
			log_err("--%s is aicertd's to decide: it traces this host (%s). Drop the "
				"option, or add --standalone (as root) to trace in this process",
				o->host_opt, path);
			return EXIT_AICERT;
		}
		if (!named)
			return -1;
		log_err("no aicertd answers at %s (is it running?); --standalone traces in this "
			"process (as root)", path);
		return EXIT_AICERT;
	}
	e = client_trace(&(struct client_trace_opts){
		.socket = o->socket, .out = o->out, .policy_path = o->policy, .argv = o->argv,
		.nonce = o->nonce_len ? o->nonce : NULL, .nonce_len = o->nonce_len, .jobs = o->jobs,
		.detach_timeout = o->detach_timeout, .verbosity = o->verbosity, .strict = o->strict },
		&st);
	if (e != -ENOENT && e != -ECONNREFUSED)
		return st;
	if (!named)
		return -1;
	log_err("no aicertd answers at %s (is it running?); --standalone traces in this process "
		"(as root)", path);
	return EXIT_AICERT;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct run_host h = { 0 };
	struct policy *policy = NULL;
	struct run *r = NULL;
	int rc = EXIT_AICERT;
	char *cwd = NULL;

	log_init("aicert-trace", LOG_INFO);
	if (parse_args(argc, argv, &o))
		return EXIT_AICERT;
	log_init("aicert-trace", o.verbosity);
	if (!o.standalone && (rc = through_daemon(&o)) >= 0)
		return rc;
	rc = EXIT_AICERT;
	signals_install();
	cwd = getcwd(NULL, 0);
	if (!cwd) {
		log_err("cannot determine the current directory: %s", strerror(errno));
		return EXIT_AICERT;
	}
	if (open_host(&o, &policy, &h))
		goto out;
	rc = run_begin(&h, &(struct run_opts){
		.argv = o.argv, .cwd = cwd, .uid = getuid(), .gid = getgid(), .out = o.out,
		.policy = policy, .jobs = o.jobs, .progress = log_level() >= LOG_INFO,
		.watchdog = true, .nonce = o.nonce, .nonce_len = o.nonce_len }, &r);
	policy = NULL; /* the run's now */
	rc = rc ? EXIT_AICERT : trace(&o, r, &h);
out:
	if (h.access)
		access_stop(h.access);
	run_free(r);
	close_host(&h, policy);
	free(cwd);
	return rc;
}

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

#include "lib/bom.h"
#include "lib/cdx.h"
#include "lib/hex.h"
#include "lib/intoto.h"
#include "lib/log.h"
#include "lib/manifest.h"
#include "lib/policy.h"
#include "lib/verify.h"
#include "trace/access.h"
#include "trace/cgroup.h"
#include "trace/collector.h"
#include "trace/eventlog.h"
#include "trace/hashcache.h"
#include "trace/hashpool.h"
#include "trace/imacorr.h"
#include "trace/runinfo.h"

#define EXIT_AICERT 125 /* as env(1): aicert itself failed */
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127
#define DEFAULT_CACHE_DIR "/var/lib/aicert/cache"

struct opts {
	const char *out, *policy, *cache_dir, *tcti, *state_dir;
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
"  -v, --verbose          debug messages, libbpf's included\n"
"  -q, --quiet            only errors\n"
"  -h, --help             this text\n"
"      --version          print the version\n"
"\n"
"Needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN) to load the BPF programs.\n"
"Example: sudo aicert-trace -o run1 -- python3 train.py --epochs 3\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_BACKEND = 256, O_TCTI, O_NOTPM, O_PCR, O_CACHE, O_NOCACHE, O_STRICT, O_DETACH,
	       O_VERSION, O_RESETTABLE, O_NONCE, O_STATE, O_RATE, O_AKALG, O_AKHANDLE,
	       O_TPMTIMEOUT };
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
	int c, b;

	o->backend = ACCESS_BACKEND_AUTO;
	o->pcr = 15;
	o->verbosity = LOG_INFO;
	o->detach_timeout = -1;
	o->cache_dir = DEFAULT_CACHE_DIR;
	/* "+": options end at the command, so its own options are left alone */
	while ((c = getopt_long(argc, argv, "+o:p:j:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'p': o->policy = optarg; break;
		case O_BACKEND:
			b = access_backend_parse(optarg);
			if (b < 0) {
				log_err("--backend: '%s' is not one of auto, lsm, tracepoint", optarg);
				return -1;
			}
			o->backend = b;
			break;
		case O_TCTI: o->tcti = optarg; break;
		case O_NOTPM: o->no_tpm = 1; break;
		case O_PCR:
			if (parse_int(optarg, 0, 23, &o->pcr)) {
				log_err("--pcr: '%s' is not a PCR index (0-23)", optarg);
				return -1;
			}
			break;
		case O_RESETTABLE: o->allow_resettable = 1; break;
		case O_STATE: o->state_dir = optarg; break;
		case O_AKALG:
			if (strcmp(optarg, "ecc") && strcmp(optarg, "rsa")) {
				log_err("--ak-alg: '%s' is not ecc or rsa", optarg);
				return -1;
			}
			o->ak.alg = optarg[0] == 'r' ? TPM_AK_RSA : TPM_AK_ECC;
			break;
		case O_AKHANDLE: {
			char *end;
			unsigned long h = strtoul(optarg, &end, 16);

			/* persistent handles live in 0x81000000-0x81FFFFFF */
			if (*end || (h >> 24) != 0x81) {
				log_err("--ak-handle: '%s' is not a persistent handle (0x81xxxxxx)",
					optarg);
				return -1;
			}
			o->ak.handle = (uint32_t)h;
			break;
		}
		case O_TPMTIMEOUT:
			if (parse_int(optarg, 1, 3600, &o->tpm_timeout)) {
				log_err("--tpm-timeout: '%s' is not a number of seconds from 1 to 3600",
					optarg);
				return -1;
			}
			break;
		case O_RATE:
			if (parse_int(optarg, 1, 1000, &o->batch_hz)) {
				log_err("--extend-rate: '%s' is not a number from 1 to 1000", optarg);
				return -1;
			}
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
			if (parse_int(optarg, 1, 1024, &o->jobs)) {
				log_err("--jobs: '%s' is not a number from 1 to 1024", optarg);
				return -1;
			}
			break;
		case O_CACHE: o->cache_dir = optarg; break;
		case O_NOCACHE: o->cache_dir = NULL; break;
		case O_STRICT: o->strict = 1; break;
		case O_DETACH:
			if (parse_int(optarg, 0, INT_MAX / 1000, &o->detach_timeout)) {
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

static int exit_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_AICERT;
}

/* mkdir -p: the bundle directory's parents are created as needed. */
static int mkdirs(const char *dir, mode_t mode)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, mode) && errno != EEXIST ? -1 : 0;
}

/* 1 when dir has any entry besides . and .., 0 when empty, -1 when unreadable. */
static int nonempty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	if (!d)
		return -1;
	while (!found && (de = readdir(d)))
		found = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return found;
}

/* A process of the run, from its fork record until its exit record: (tgid, start time). */
struct proc_id {
	uint32_t tgid;
	uint64_t start; /* 0: the command itself, whose start time aicert did not see */
};

struct procs {
	pthread_mutex_t mu; /* the drain thread adds and removes, main adds the command */
	struct proc_id *v, *gone; /* live ones; exits of processes whose fork was not seen */
	size_t n, cap, ngone, capgone;
	uint32_t root; /* the command's pid, once spawned */
	bool nomem;
};

struct run {
	struct opts o;
	char *cwd; /* getcwd(NULL, 0): no PATH_MAX limit */
	char id[37];
	char out[PATH_MAX];	   /* where the bundle is written: <final>.partial-<id> */
	char final[PATH_MAX - 32]; /* where it is published once complete and checked */
	int out_made, published;
	int wd_fd;		   /* the watchdog's pipe (write end), -1: none */
	int cache_failed;	   /* the hash cache could not be saved: the run fails */
	pid_t wd_pid;
	struct procs procs;	   /* the run's live processes, as the BPF side reported them */
	struct timespec started, finished;
	struct policy *policy;
	struct hashcache *cache;
	struct access *access;
	struct run_cgroup cg;
	int cg_made;
	struct collector *coll;
	struct evlog *ev;
	struct evlog_run *evr;
	int ev_err; /* first event-log error: the bundle cannot be attested */
	struct bom bom;
};

/* An existing --out must be an empty directory: an earlier bundle, or the user's files, must never
 * be mixed into this one. */
static int check_out(const char *out)
{
	struct stat st;
	int ne;

	if (stat(out, &st))
		return errno == ENOENT ? 0 : (log_err("cannot use %s: %s", out, strerror(errno)), -1);
	if (!S_ISDIR(st.st_mode)) {
		log_err("%s is not a directory", out);
		return -1;
	}
	ne = nonempty(out);
	if (ne < 0)
		log_err("cannot read the bundle directory %s: %s", out, strerror(errno));
	else if (ne > 0)
		log_err("the bundle directory %s is not empty; choose a new --out directory", out);
	return ne ? -1 : 0;
}

/*
 * The bundle is written into <out>.partial-<id> beside <out> and renamed to <out> at the end, so
 * a bundle directory is either complete or recognisably partial. Everything under either name
 * is excluded from the trace (policy_add_exclude, in setup).
 */
static int prepare_out(struct run *r)
{
	static char def[128];
	char buf[PATH_MAX], abs[PATH_MAX], *slash;
	const char *parent = ".", *base = buf;
	time_t now = time(NULL);
	struct tm tm;
	size_t n;

	if (!r->o.out) {
		gmtime_r(&now, &tm);
		strftime(def, sizeof(def), "aicert-%Y%m%d-%H%M%S", &tm);
		snprintf(def + strlen(def), sizeof(def) - strlen(def), "-%.8s", r->id);
		r->o.out = def;
	}
	if (check_out(r->o.out))
		return -1;
	n = strlen(r->o.out);
	if (n >= sizeof(buf)) {
		log_err("--out: %s", strerror(ENAMETOOLONG));
		return -1;
	}
	memcpy(buf, r->o.out, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	if ((slash = strrchr(buf, '/'))) {
		base = slash + 1;
		*slash = '\0';
		parent = slash == buf ? "/" : buf;
	}
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		log_err("--out %s: name a new directory for the bundle", r->o.out);
		return -1;
	}
	if (mkdirs(parent, 0755) || !realpath(parent, abs)) {
		log_err("cannot create %s: %s", parent, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(r->final, sizeof(r->final), "%s/%s", strcmp(abs, "/") ? abs : "",
			     base) >= sizeof(r->final)) {
		log_err("--out: %s", strerror(ENAMETOOLONG));
		return -1;
	}
	snprintf(r->out, sizeof(r->out), "%s.partial-%.8s", r->final, r->id);
	if (mkdir(r->out, 0755)) {
		log_err("cannot create the bundle directory %s: %s", r->out, strerror(errno));
		return -1;
	}
	r->out_made = 1;
	return 0;
}

/* The bundle is complete and passed the verifier's checks: it takes its name. */
static int publish(struct run *r)
{
	if (rename(r->out, r->final)) {
		log_err("cannot rename the bundle %s to %s: %s", r->out, r->final, strerror(errno));
		return -1;
	}
	r->published = 1;
	return 0;
}

/* Before the BPF programs load: a missing TPM, a full disk or an unsafe TPM clock is told at once,
 * each by its own cause (evlog_open logs it). */
static int open_log(struct run *r)
{
	struct evlog_opts eo = {
		.statedir = r->o.state_dir, .tcti = r->o.tcti, .pcr = (uint32_t)r->o.pcr,
		.allow_resettable = r->o.allow_resettable, .no_tpm = r->o.no_tpm,
		.batch_hz = (unsigned)r->o.batch_hz, .ak = r->o.ak,
		.tpm_timeout_ms = r->o.tpm_timeout * 1000,
	};
	int e = evlog_open(&eo, &r->ev);

	if (e == -ENODEV && !r->o.no_tpm)
		log_err("no usable TPM; use --tcti to name one, or --no-tpm for an unattested "
			"bundle");
	return e ? -1 : 0;
}

static int start_log(struct run *r)
{
	uint8_t pdigest[32];
	size_t n = 0;

	while (r->o.argv[n])
		n++;
	policy_digest(r->policy, pdigest);
	if (evlog_run_start(r->ev, &(struct evlog_run_info){
		    .run_id = r->id, .argv = (const char *const *)r->o.argv, .argc = n,
		    .cwd = r->cwd, .uid = getuid(),
		    .policy_sha256 = pdigest, .backend = access_backend_name(r->access),
		    .nonce = r->o.nonce, .nonce_len = r->o.nonce_len }, &r->evr)) {
		log_err("cannot start the run in the event log %s", evlog_path(r->ev));
		return -1;
	}
	return 0;
}

/* Closes every descriptor from 3 up but the n in keep. */
static void keep_fds(const int *keep, size_t n)
{
	unsigned lo = 3;

	for (unsigned fd = 3; fd < 1024 && n; fd++) {
		bool kept = false;

		for (size_t i = 0; i < n; i++)
			kept |= keep[i] == (int)fd;
		if (!kept)
			continue;
		if (fd > lo)
			close_range(lo, fd - 1, 0);
		lo = fd + 1;
	}
	close_range(lo, ~0U, 0);
}

/*
 * A child that outlives a SIGKILL of aicert-trace: it waits on a pipe only aicert writes to. EOF
 * without aicert's "done" byte means aicert is gone, and the run's processes would go on untraced:
 * the watchdog kills the run's cgroup and removes it. (A pipe, not PR_SET_PDEATHSIG: no race with
 * a parent that dies before the child could ask.)
 */
static void watchdog(struct run *r, int rfd)
{
	const int keep[] = { rfd, r->cg.events_fd, r->cg.lock_fd };
	ssize_t n;
	char c;

	signals_reset();
	/* a terminal's ^C or a hang-up reaches the whole process group; it is aicert's to handle */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	keep_fds(keep, sizeof(keep) / sizeof(keep[0]));
	prctl(PR_SET_NAME, "aicert-watchdog");
	do
		n = read(rfd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);
	log_err("aicert-trace died during run %s: killing the run's processes (cgroup %s), "
		"which would go on untraced", r->id, r->cg.path);
	run_cgroup_destroy(&r->cg, 1);
	_exit(0);
}

static int watchdog_start(struct run *r)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		log_err("cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_err("cannot fork the watchdog: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[1]);
		watchdog(r, p[0]);
	}
	close(p[0]);
	r->wd_fd = p[1];
	r->wd_pid = pid;
	return 0;
}

/* aicert ends normally (the run's processes are gone, or left on purpose: detached). */
static void watchdog_stop(struct run *r)
{
	ssize_t n;

	if (r->wd_fd < 0)
		return;
	n = write(r->wd_fd, "q", 1);
	(void)n;
	close(r->wd_fd);
	r->wd_fd = -1;
	while (waitpid(r->wd_pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static void push(struct procs *p, struct proc_id **v, size_t *n, size_t *cap, struct proc_id id)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		struct proc_id *nv = realloc(*v, c * sizeof(*nv));

		if (!nv) {
			p->nomem = true;
			return;
		}
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = id;
}

static void procs_add(struct procs *p, uint32_t tgid, uint64_t start)
{
	pthread_mutex_lock(&p->mu);
	push(p, &p->v, &p->n, &p->cap, (struct proc_id){ tgid, start });
	pthread_mutex_unlock(&p->mu);
}

static void procs_del(struct procs *p, uint32_t tgid, uint64_t start)
{
	size_t i;

	pthread_mutex_lock(&p->mu);
	for (i = p->n; i-- > 0;)
		if (p->v[i].tgid == tgid && p->v[i].start == start) {
			p->v[i] = p->v[--p->n];
			break;
		}
	if (i == (size_t)-1) /* the command itself: its fork came before it was in scope */
		push(p, &p->gone, &p->ngone, &p->capgone, (struct proc_id){ tgid, start });
	pthread_mutex_unlock(&p->mu);
}

/* The command left the cgroup if its exit was never seen in scope. */
static bool root_escaped(struct procs *p)
{
	bool seen = false;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->ngone && !seen; i++)
		seen = p->gone[i].tgid == p->root;
	pthread_mutex_unlock(&p->mu);
	return p->root && !seen;
}

/*
 * The drain thread's callback: it follows the run's processes (a fork record adds one, an exit
 * record removes it) before the collector gets the record. A process still listed when the
 * cgroup is empty left the cgroup while it ran: out of the BPF programs' scope.
 */
static void on_record(const void *rec, size_t len, void *ctx)
{
	struct run *r = ctx;
	const struct ac_proc *p = rec;

	if (len >= sizeof(*p) && p->hdr.size >= sizeof(*p)) {
		if (p->hdr.type == AC_REC_FORK)
			procs_add(&r->procs, p->child_tgid, p->child_start_time);
		else if (p->hdr.type == AC_REC_EXIT)
			procs_del(&r->procs, p->task.tgid, p->task.start_time);
	}
	collector_on_record(rec, len, r->coll);
}

static void tell_escape(uint32_t pid)
{
	log_warn("INCOMPLETE: process %u left the run's cgroup while it ran: what it did after is "
		 "not recorded; the bundle marks the run detached",
		 pid);
}

/* After the final drain: the processes that left the run's cgroup (0 when none). */
static size_t escaped(struct run *r, const struct access_stats *as)
{
	size_t n = r->procs.n + root_escaped(&r->procs);

	if (root_escaped(&r->procs))
		tell_escape(r->procs.root);
	for (size_t i = 0; i < r->procs.n; i++)
		tell_escape(r->procs.v[i].tgid);
	if (r->procs.nomem)
		log_warn("out of memory while following the run's processes: escapes from its "
			 "cgroup may have gone unnoticed");
	if (n && as->rb_drops)
		log_warn("(with events lost, some of those may simply be exits that were lost)");
	return n;
}

static int setup(struct run *r)
{
	char err[512];
	int e = 0;

	if (!privileged()) {
		log_err("aicert must run as root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN) to trace; "
			"try: sudo aicert-trace ...");
		return -1;
	}
	if (r->o.policy) {
		r->policy = policy_load(r->o.policy, err, sizeof(err));
		if (!r->policy) {
			log_err("%s", err);
			return -1;
		}
	} else if (!(r->policy = policy_default())) {
		log_err("cannot load the built-in policy");
		return -1;
	}
	if (prepare_out(r))
		return -1;
	if (policy_add_exclude(r->policy, r->out) || policy_add_exclude(r->policy, r->final)) {
		log_err("cannot exclude the bundle directory %s from the trace", r->final);
		return -1;
	}
	if (r->o.cache_dir) {
		r->cache = hashcache_open(r->o.cache_dir, &e);
		if (r->cache && access(r->o.cache_dir, W_OK))
			e = errno;
		if (!r->cache || e) {
			log_err("the hash cache %s is unusable (%s); --no-cache hashes without one",
				r->o.cache_dir, strerror(e < 0 ? -e : e));
			return -1;
		}
	}
	if (open_log(r))
		return -1;
	if (run_cgroup_sweep() < 0 || run_cgroup_create(&r->cg, r->id))
		return -1;
	r->cg_made = 1;
	if (watchdog_start(r))
		return -1;
	r->access = access_open(&(struct access_opts){ .backend = r->o.backend }, &e);
	if (!r->access)
		return -1;
	if (start_log(r))
		return -1;
	if (access_scope_add(r->access, r->cg.id)) {
		log_err("cannot scope the BPF programs to the run's cgroup");
		return -1;
	}
	r->coll = collector_new(&(struct collector_opts){
		.policy = r->policy, .cache = r->cache, .jobs = r->o.jobs,
		.progress = log_level() >= LOG_INFO });
	if (!r->coll) {
		log_err("cannot start the collector: %s", strerror(ENOMEM));
		return -1;
	}
	if (access_start(r->access, on_record, r)) {
		log_err("cannot start draining the ring buffer");
		return -1;
	}
	return 0;
}

static int fill_bom(struct run *r, int status, int detached, const struct access_stats *as)
{
	struct bom *b = &r->bom;
	char t[64];
	size_t n = 0;

	while (r->o.argv[n])
		n++;
	b->run.id = strdup(r->id);
	b->run.argc = n;
	b->run.command = calloc(n + 1, sizeof(char *));
	if (!b->run.id || !b->run.command)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!(b->run.command[i] = strdup(r->o.argv[i])))
			return -1;
	b->run.cwd = strdup(r->cwd);
	b->run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	b->run.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	time_rfc3339(&r->started, t, sizeof(t));
	b->run.started = strdup(t);
	time_rfc3339(&r->finished, t, sizeof(t));
	b->run.finished = strdup(t);
	b->run.backend = strdup(access_backend_name(r->access));
	b->run.events_lost = as->rb_drops;
	b->run.paths_truncated = as->path_trunc;
	b->run.detached = detached;
	b->run.complete = !as->rb_drops && !as->path_trunc && !detached;
	if (!b->run.cwd || !b->run.started || !b->run.finished || !b->run.backend)
		return -1;
	if (host_fill(&b->host))
		return -1;
	if (evlog_attested(r->ev)) {
		char tpm[256];

		snprintf(tpm, sizeof(tpm), "TPM 2.0 (%s), PCR %u", r->o.tcti ? r->o.tcti : "default TCTI",
			 evlog_pcr(r->ev));
		b->host.tpm = strdup(tpm);
		b->attested = 1;
	} else {
		b->host.tpm = strdup("none (unattested: --no-tpm)");
		b->attested = 0;
	}
	return b->host.tpm ? 0 : -1;
}

static void summary(struct run *r, const struct collector_stats *cs, const struct access_stats *as)
{
	size_t in = 0, out = 0, bad = 0;

	for (size_t i = 0; i < r->bom.nfiles; i++) {
		if (r->bom.files[i].roles & BOM_ROLE_OUTPUT)
			out++;
		else
			in++;
		if (!r->bom.files[i].sha256[0])
			bad++;
	}
	log_info("%zu files measured (%zu inputs, %zu outputs), %.1f MiB hashed, %llu from the "
		 "cache", r->bom.nfiles, in, out, (double)cs->bytes_hashed / (1 << 20),
		 (unsigned long long)cs->cache_hits);
	if (as->rb_drops || as->path_trunc)
		log_warn("INCOMPLETE: %llu events lost, %llu paths truncated",
			 (unsigned long long)as->rb_drops, (unsigned long long)as->path_trunc);
	if (bad)
		log_warn("%zu files could not be measured (see \"status\" in bom.json)", bad);
	if (r->bom.attested)
		log_info("attested: %llu log records extended into PCR %u (%llu batches, %llu TPM "
			 "commands) and quoted", (unsigned long long)evlog_run_records(r->evr),
			 evlog_pcr(r->ev), (unsigned long long)evlog_run_batches(r->evr),
			 (unsigned long long)evlog_tpm_commands(r->ev));
	else
		log_warn("UNATTESTED bundle (--no-tpm): nothing binds it to a TPM");
	log_info("bundle written to %s", r->final);
}

/* bom.json's status text -> the event log's code; aicert-verify maps it back the same way */
static enum cel_file_status cel_status(const struct bom_file *f)
{
	static const struct {
		const char *text;
		enum cel_file_status code;
	} map[] = {
		{ "vanished", CEL_FILE_VANISHED },
		{ "deleted before the run ended", CEL_FILE_DELETED },
		{ "changed while hashing", CEL_FILE_CHANGED },
		{ "replaced", CEL_FILE_REPLACED },
		{ "not a regular file", CEL_FILE_NOT_REGULAR },
		{ "path truncated", CEL_FILE_PATH_TRUNCATED },
	};

	if (!f->status)
		return CEL_FILE_OK;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(f->status, map[i].text))
			return map[i].code;
	return CEL_FILE_UNREADABLE; /* "unreadable: <why>" */
}

/* Every BOM entry goes into the event log, so the log replays to what bom.json says. */
static void on_measured(const struct bom_file *f, void *ctx)
{
	struct run *r = ctx;
	uint8_t sha[32] = { 0 };
	int e;

	if (f->sha256[0])
		hex_decode(f->sha256, sha, sizeof(sha));
	e = evlog_measure(r->evr, f->path, sha, f->size, f->roles, cel_status(f));
	if (e && !r->ev_err)
		r->ev_err = e;
}

static int log_run_end(struct run *r, int status, int detached, const struct access_stats *as)
{
	struct cel_output *outs = calloc(r->bom.nfiles + 1, sizeof(*outs));
	size_t n = 0;
	int e;

	if (!outs)
		return -ENOMEM;
	for (size_t i = 0; i < r->bom.nfiles; i++) {
		const struct bom_file *f = &r->bom.files[i];

		if (!(f->roles & BOM_ROLE_OUTPUT) || !f->sha256[0])
			continue;
		outs[n].path = f->path;
		outs[n].size = f->size;
		hex_decode(f->sha256, outs[n].sha256, sizeof(outs[n].sha256));
		n++;
	}
	e = as->rb_drops ? evlog_loss(r->evr, as->rb_drops) : 0;
	if (!e)
		e = evlog_run_end(r->evr, &(struct evlog_run_end){
			.exit_status = exit_status(status),
			.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0,
			.detached = detached, .paths_truncated = as->path_trunc,
			.outputs = outs, .n_outputs = n });
	free(outs);
	return e;
}

static int write_docs(struct run *r)
{
	char path[PATH_MAX + 32];
	int e;

	/* imacorr says what it found; a failure leaves every file "unavailable", not fatal */
	e = imacorr_run(&r->bom, r->out, NULL, NULL);
	if (e)
		log_warn("IMA correlation failed (%s): files marked unavailable", strerror(-e));
	snprintf(path, sizeof(path), "%s/bom.json", r->out);
	e = bom_write(&r->bom, path);
	if (e) {
		log_err("cannot write %s: %s", path, strerror(-e));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/bom.cdx.json", r->out);
	if (cdx_write(&r->bom, path)) {
		log_err("cannot write %s", path);
		return -1;
	}
	return 0;
}

/* provenance.intoto.json names events.cel as a byproduct, by digest. */
static int write_provenance(struct run *r, const char *events)
{
	struct hash_job job = { .path = events, .pid = -1, .fd = -1 };
	struct hash_result res;
	char path[PATH_MAX + 32], hex[65];

	if (hash_file(&job, NULL, &res) != HASH_OK) {
		log_err("cannot hash %s", events);
		return -1;
	}
	hex_encode(res.sha256, sizeof(res.sha256), hex);
	snprintf(path, sizeof(path), "%s/provenance.intoto.json", r->out);
	if (intoto_write(&r->bom, path, hex)) {
		log_err("cannot write %s", path);
		return -1;
	}
	return 0;
}

/* Binding -> quote -> the final IMA list -> manifest.json; see lib/manifest.h for why. */
static int seal(struct run *r)
{
	char path[PATH_MAX + 32], why[MANIFEST_WHY_MAX];
	struct manifest *m = NULL;
	struct bom none;
	uint8_t q[32];
	int rc = -1;

	snprintf(path, sizeof(path), "%s/events.cel", r->out);
	if (evlog_export(r->ev, &(struct evlog_view){ r->id, EVLOG_VIEW_NOUID }, path)) {
		log_err("cannot write %s", path);
		return -1;
	}
	if (write_provenance(r, path)) {
		evlog_release(r->ev);
		return -1;
	}
	if (manifest_scan(r->out, (unsigned)evlog_pcr(r->ev), r->o.nonce_len ? r->o.nonce : NULL, r->o.nonce_len, &m, why) ||
	    manifest_binding(m, q)) {
		log_err("cannot bind the bundle: %s", why);
		evlog_release(r->ev);
		goto cleanup;
	}
	if (!evlog_attested(r->ev))
		evlog_release(r->ev);
	else if (evlog_quote(r->ev, q, sizeof(q), r->out)) {
		log_err("cannot take the TPM quote");
		goto cleanup;
	}
	bom_init(&none);
	if (imacorr_run(&none, r->out, NULL, NULL))
		log_warn("cannot refresh ima.bin after the quote: its replay may stop short of the "
			 "quoted PCR 10");
	bom_free(&none);
	if (manifest_build(r->out, (unsigned)evlog_pcr(r->ev), r->o.nonce_len ? r->o.nonce : NULL, r->o.nonce_len, NULL,
			   why)) {
		log_err("cannot write manifest.json: %s", why);
		goto cleanup;
	}
	rc = 0;
cleanup:
	manifest_free(m);
	return rc;
}

/*
 * The verifier's own checks (verify_bundle, what aicert-verify runs) on the bundle just written,
 * with the run's own AK pinned and its nonce: a run never reports success for a bundle that
 * aicert-verify would reject. An incomplete run may fail only the "complete" check.
 */
static int self_check(struct run *r)
{
	char ak[PATH_MAX + 48];
	struct verify_report rep;
	struct verify_opts vo = { .bundle = r->out, .ak_pem = ak,
				  .nonce = r->o.nonce_len ? r->o.nonce : NULL,
				  .nonce_len = r->o.nonce_len,
				  .allow_resettable = r->o.allow_resettable };
	int code;

	if (!r->bom.attested)
		return 0; /* nothing to check it against: summary() says UNATTESTED */
	snprintf(ak, sizeof(ak), "%s/ak.pub.pem", r->out);
	code = verify_bundle(&vo, &rep);
	if (code == VERIFY_EXIT_OK || (code == VERIFY_EXIT_INCOMPLETE && !r->bom.run.complete))
		return 0;
	for (int i = 0; i < VERIFY_N_CHECKS; i++)
		if (!rep.checks[i].ok)
			log_err("aicert-verify would reject this bundle: FAIL %s: %s",
				rep.checks[i].name, rep.checks[i].reason);
	return -1;
}

static int finish(struct run *r, int status, int detached, int *strict_fail)
{
	struct access_stats as;
	struct collector_stats cs;

	access_stop(r->access);
	access_stats(r->access, &as);
	if (escaped(r, &as))
		detached = 1;
	clock_gettime(CLOCK_REALTIME, &r->finished);
	if (fill_bom(r, status, detached, &as)) {
		log_err("out of memory");
		return -1;
	}
	if (collector_finish(r->coll, &r->bom, on_measured, r)) {
		log_err("cannot finish measuring: %s", strerror(ENOMEM));
		return -1;
	}
	collector_stats(r->coll, &cs);
	/* hashcache_save logged why; the bundle is still written, but the run fails */
	r->cache_failed = r->cache && hashcache_save(r->cache);
	if (r->ev_err || log_run_end(r, status, detached, &as)) {
		log_err("cannot append the run to the event log %s", evlog_path(r->ev));
		return -1;
	}
	if (write_docs(r) || seal(r) || self_check(r) || publish(r))
		return -1;
	summary(r, &cs, &as);
	*strict_fail = as.rb_drops || as.path_trunc || cs.unhashed || detached;
	return 0;
}

static void teardown(struct run *r)
{
	if (r->access)
		access_stop(r->access);
	collector_free(r->coll);
	evlog_run_free(r->evr);
	evlog_close(r->ev);
	access_close(r->access);
	watchdog_stop(r);
	if (r->cg_made)
		run_cgroup_destroy(&r->cg, 0);
	hashcache_close(r->cache);
	policy_free(r->policy);
	bom_free(&r->bom);
	free(r->cwd);
	free(r->procs.v);
	free(r->procs.gone);
	pthread_mutex_destroy(&r->procs.mu);
}

int main(int argc, char **argv)
{
	struct run r = { .wd_fd = -1, .procs.mu = PTHREAD_MUTEX_INITIALIZER };
	int status = 0, detached, strict_fail = 0, rc = EXIT_AICERT;
	struct spawn_err se;
	pid_t pid;

	log_init("aicert-trace", LOG_INFO);
	if (parse_args(argc, argv, &r.o))
		return EXIT_AICERT;
	log_init("aicert-trace", r.o.verbosity);
	bom_init(&r.bom);
	if (run_id_new(r.id)) {
		log_err("cannot make a run id: %s", strerror(errno));
		return EXIT_AICERT;
	}
	signals_install();
	r.cwd = getcwd(NULL, 0);
	if (!r.cwd) {
		log_err("cannot determine the current directory: %s", strerror(errno));
		return EXIT_AICERT;
	}
	if (setup(&r))
		goto out;
	if (stop_signal) {
		log_err("interrupted (%s) before the command started; nothing was run",
			strsignal(stop_signal));
		rc = 128 + stop_signal;
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &r.started);
	/* fds 0-2 are all the command inherits (spawn closes the rest): files among them count */
	collector_inherit_fds(r.coll, 3);
	pid = spawn(&r.o, &r.cg, &se);
	if (pid < 0)
		goto out;
	r.procs.root = (uint32_t)pid;
	if (wait_child(pid, &status)) {
		log_err("lost track of the command: %s", strerror(errno));
		goto out;
	}
	child_pid = 0;
	finishing = 1;
	if (se.stage == 1) {
		log_err("cannot move the command into the run's cgroup %s: %s", r.cg.path,
			strerror(se.err));
		goto out;
	}
	if (se.stage == 2)
		log_err("cannot run '%s': %s", r.o.argv[0], strerror(se.err));
	detached = wait_rest(&r.o, &r.cg);
	if (finish(&r, status, detached, &strict_fail))
		goto out;
	rc = exit_status(status);
	if (r.cache_failed) {
		log_err("the bundle is complete, but the hash cache %s could not be saved: exit %d",
			r.o.cache_dir, EXIT_AICERT);
		rc = EXIT_AICERT;
	}
	if (r.o.strict && strict_fail && rc == 0) {
		log_err("--strict: the record is incomplete (lost events, truncated paths, "
			"unmeasured files or a detached run)");
		rc = EXIT_AICERT;
	}
out:
	teardown(&r);
	/* nothing ran: leave no empty bundle directory behind (rmdir keeps a non-empty one) */
	if (!r.started.tv_sec && r.out_made)
		rmdir(r.out);
	else if (r.out_made && !r.published)
		log_err("no bundle: what was written is left in %s", r.out);
	return rc;
}

// SPDX-License-Identifier: BSD-2-Clause
/* tpm.c - PCR extend/read, attestation key and quote through tpm2-tss ESAPI. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "lib/log.h"
#include "trace/tpm.h"
#include "trace/tpmguard.h"

struct tpm {
	TSS2_TCTI_CONTEXT *tcti; /* the guard (tpmguard.h) around the loaded TCTI */
	ESYS_CONTEXT *ctx;
	char *conf;
	int timeout_ms;
	bool hung_told;
	uint64_t commands;
	ESYS_TR ak;
	uint32_t ak_handle;
};

/* Every ESAPI command goes through here, so a failure is logged once, where it happened. */
static int esys_rc(struct tpm *t, const char *fn, TSS2_RC rc)
{
	t->commands++;
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if (tpmguard_hung(t->tcti)) {
		if (!t->hung_told)
			log_err(
			    "%s: the TPM (%s) did not answer within %.1f s: it is stopped or hung "
			    "(--tpm-timeout S waits longer)",
			    fn, t->conf, t->timeout_ms / 1000.0);
		else
			log_err("%s: not sent: the TPM stopped answering earlier", fn);
		t->hung_told = true;
		return -ETIMEDOUT;
	}
	log_err("%s(0x%x) - %s", fn, rc, Tss2_RC_Decode(rc));
	return -EIO;
}
#define ESYS(t, fn, ...) esys_rc((t), #fn, fn((t)->ctx, __VA_ARGS__))
#define NOSESS ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE
#define PWSESS ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE

static int try_tcti(const char *conf, int timeout_ms, TSS2_TCTI_CONTEXT **out, char *why,
		    size_t whylen, size_t *whypos)
{
	bool late = false;
	TSS2_RC rc = tpmguard_init(conf, timeout_ms, out, &late);

	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if (*whypos < whylen && late)
		*whypos += snprintf(why + *whypos, whylen - *whypos,
				    "%s%s (no answer within %.1f s: the TPM is stopped or hung; "
				    "--tpm-timeout S waits longer)",
				    *whypos ? ", " : "", conf, timeout_ms / 1000.0);
	else if (*whypos < whylen)
		*whypos += snprintf(why + *whypos, whylen - *whypos, "%s%s (0x%x - %s)",
				    *whypos ? ", " : "", conf, rc, Tss2_RC_Decode(rc));
	return late ? -ETIMEDOUT : -ENODEV;
}

/* The candidates, in order: explicit, else env conventions, else the kernel resource manager. */
static size_t tcti_candidates(const char *tcti, const char **c)
{
	static const char *const envs[] = {"TPM2TOOLS_TCTI", "TCTI", "TSS2_TCTI"};
	size_t n = 0;

	if (tcti && *tcti) {
		c[n++] = tcti;
		return n;
	}
	for (size_t i = 0; i < 3; i++) {
		const char *v = getenv(envs[i]);

		if (v && *v)
			c[n++] = v;
	}
	if (access("/dev/tpmrm0", F_OK) == 0)
		c[n++] = "device:/dev/tpmrm0";
	return n;
}

/* The loaded TCTI behind a guard that bounds each command's time. */
static int guard(struct tpm *t, TSS2_TCTI_CONTEXT **raw)
{
	t->tcti = tpmguard_new(*raw, t->timeout_ms);
	if (!t->tcti) {
		Tss2_TctiLdr_Finalize(raw);
		log_err("cannot start the TPM command thread: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	*raw = NULL;
	return 0;
}

int tpm_open(const char *tcti, int timeout_ms, struct tpm **out)
{
	TSS2_TCTI_CONTEXT *raw = NULL;
	const char *cand[4];
	size_t n = tcti_candidates(tcti, cand), whypos = 0;
	char why[1024] = "";
	struct tpm *t = calloc(1, sizeof(*t));
	int ret = -ENODEV;

	if (!t)
		return -ENOMEM;
	t->timeout_ms = timeout_ms > 0 ? timeout_ms : TPM_TIMEOUT_DEFAULT_MS;
	/* tpm2-tss logs every failure at every layer; aicert logs each once, decoded */
	if (log_level() < LOG_DEBUG)
		setenv("TSS2_LOG", "all+none", 0);
	for (size_t i = 0; i < n && ret; i++) {
		ret = try_tcti(cand[i], t->timeout_ms, &raw, why, sizeof(why), &whypos);
		if (!ret && !(t->conf = strdup(cand[i])))
			ret = -ENOMEM;
	}
	if (ret) {
		if (!n)
			log_err("no TPM reachable: no --tcti, none of $TPM2TOOLS_TCTI, $TCTI, "
				"$TSS2_TCTI set, and no /dev/tpmrm0");
		else
			log_err("no TPM reachable: tried %s", why);
		goto cleanup;
	}
	if ((ret = guard(t, &raw)))
		goto cleanup;
	ret = esys_rc(t, "Esys_Initialize", Esys_Initialize(&t->ctx, t->tcti, NULL));
	t->commands = 0; /* Esys_Initialize sends no command */
	if (ret)
		goto cleanup;
	t->ak = ESYS_TR_NONE;
	*out = t;
	return 0;
cleanup:
	if (raw)
		Tss2_TctiLdr_Finalize(&raw);
	tpm_close(t);
	return ret;
}

void tpm_close(struct tpm *t)
{
	if (!t)
		return;
	if (t->ctx)
		Esys_Finalize(&t->ctx);
	tpmguard_free(t->tcti);
	free(t->conf);
	free(t);
}

const char *tpm_tcti(const struct tpm *t)
{
	return t->conf;
}

uint64_t tpm_commands(const struct tpm *t)
{
	return t ? t->commands : 0;
}

int tpm_pcr_check(uint32_t pcr, bool allow_resettable)
{
	if (pcr > 23) {
		log_err("PCR %u does not exist (0..23)", pcr);
		return -EINVAL;
	}
	if (pcr == TPM_PCR_IMA) {
		log_err("PCR 10 belongs to IMA; pick another PCR for aicert (default %d)",
			TPM_PCR_DEFAULT);
		return -EINVAL;
	}
	if ((pcr == 16 || pcr == 23) && !allow_resettable) {
		log_err("PCR %u is resettable by any process, so its value proves nothing; "
			"refusing it without --allow-resettable-pcr",
			pcr);
		return -EPERM;
	}
	return 0;
}

int tpm_banks(struct tpm *t, uint32_t pcr, uint16_t *algs, size_t *n)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	int ret;

	*n = 0;
	ret = ESYS(t, Esys_GetCapability, NOSESS, TPM2_CAP_PCRS, 0, 1, &more, &cap);
	if (ret)
		goto cleanup;
	for (UINT32 i = 0; i < cap->data.assignedPCR.count; i++) {
		const TPMS_PCR_SELECTION *s = &cap->data.assignedPCR.pcrSelections[i];

		if (pcr / 8 >= s->sizeofSelect || !(s->pcrSelect[pcr / 8] & (1 << (pcr % 8))))
			continue;
		if (!cel_alg_size(s->hash)) {
			log_err("PCR bank 0x%x is allocated but aicert cannot hash with it",
				s->hash);
			ret = -ENOTSUP;
			goto cleanup;
		}
		if (*n < CEL_MAX_BANKS)
			algs[(*n)++] = s->hash;
	}
	if (!*n) {
		log_err("PCR %u is allocated in no bank", pcr);
		ret = -ENOENT;
	}
cleanup:
	Esys_Free(cap);
	return ret;
}

int tpm_clock_safe(struct tpm *t, bool *safe)
{
	TPMS_TIME_INFO *ti = NULL;
	int ret = ESYS(t, Esys_ReadClock, NOSESS, &ti);

	if (!ret)
		*safe = ti->clockInfo.safe == TPM2_YES;
	Esys_Free(ti);
	return ret;
}

static void select_pcr(TPMS_PCR_SELECTION *s, uint16_t alg, uint32_t pcr)
{
	memset(s, 0, sizeof(*s));
	s->hash = alg;
	s->sizeofSelect = 3;
	s->pcrSelect[pcr / 8] |= 1 << (pcr % 8);
}

int tpm_pcr_read(struct tpm *t, uint32_t pcr, uint16_t alg, uint8_t *out, size_t *len)
{
	TPML_PCR_SELECTION sel = {.count = 1}, *sel_out = NULL;
	TPML_DIGEST *values = NULL;
	UINT32 counter;
	int ret;

	select_pcr(&sel.pcrSelections[0], alg, pcr);
	ret = ESYS(t, Esys_PCR_Read, NOSESS, &sel, &counter, &sel_out, &values);
	if (ret)
		goto cleanup;
	if (values->count != 1 || values->digests[0].size > CEL_MAX_DIGEST) {
		log_err("PCR %u of bank 0x%x could not be read (not allocated?)", pcr, alg);
		ret = -ENOENT;
		goto cleanup;
	}
	memcpy(out, values->digests[0].buffer, values->digests[0].size);
	*len = values->digests[0].size;
cleanup:
	Esys_Free(sel_out);
	Esys_Free(values);
	return ret;
}

int tpm_pcr_extend(struct tpm *t, uint32_t pcr, const struct cel_digests *d)
{
	TPML_DIGEST_VALUES v = {.count = d->n};

	if (d->n > TPM2_NUM_PCR_BANKS || pcr > 23)
		return -EINVAL;
	for (size_t i = 0; i < d->n; i++) {
		v.digests[i].hashAlg = d->v[i].alg;
		memcpy(&v.digests[i].digest, d->v[i].d, d->v[i].len);
	}
	return ESYS(t, Esys_PCR_Extend, ESYS_TR_PCR0 + pcr, PWSESS, &v);
}

/* ---- attestation key ---- */

/* The owner hierarchy's storage root key, ECC P-256 (TCG Provisioning Guidance template). */
static const TPM2B_PUBLIC srk_template = {
    .publicArea =
	{
	    .type = TPM2_ALG_ECC,
	    .nameAlg = TPM2_ALG_SHA256,
	    .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
				TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
	    .parameters.eccDetail =
		{
		    .symmetric = {.algorithm = TPM2_ALG_AES,
				  .keyBits.aes = 128,
				  .mode.aes = TPM2_ALG_CFB},
		    .scheme = {.scheme = TPM2_ALG_NULL},
		    .curveID = TPM2_ECC_NIST_P256,
		    .kdf = {.scheme = TPM2_ALG_NULL},
		},
	    .unique.ecc = {.x.size = 32, .y.size = 32},
	},
};

#define AK_ATTRS                                                                                   \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |        \
	 TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |                    \
	 TPMA_OBJECT_SIGN_ENCRYPT)

static void ak_template(enum tpm_ak_alg alg, TPM2B_PUBLIC *p)
{
	memset(p, 0, sizeof(*p));
	p->publicArea.nameAlg = TPM2_ALG_SHA256;
	p->publicArea.objectAttributes = AK_ATTRS;
	if (alg == TPM_AK_RSA) {
		TPMS_RSA_PARMS *r = &p->publicArea.parameters.rsaDetail;

		p->publicArea.type = TPM2_ALG_RSA;
		r->symmetric.algorithm = TPM2_ALG_NULL;
		r->scheme.scheme = TPM2_ALG_RSASSA;
		r->scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
		r->keyBits = 2048;
	} else {
		TPMS_ECC_PARMS *e = &p->publicArea.parameters.eccDetail;

		p->publicArea.type = TPM2_ALG_ECC;
		e->symmetric.algorithm = TPM2_ALG_NULL;
		e->scheme.scheme = TPM2_ALG_ECDSA;
		e->scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
		e->curveID = TPM2_ECC_NIST_P256;
		e->kdf.scheme = TPM2_ALG_NULL;
	}
}

static bool ak_matches(const TPMT_PUBLIC *have, const TPMT_PUBLIC *want)
{
	if (have->type != want->type || have->nameAlg != want->nameAlg ||
	    have->objectAttributes != want->objectAttributes)
		return false;
	if (want->type == TPM2_ALG_RSA) {
		const TPMS_RSA_PARMS *h = &have->parameters.rsaDetail,
				     *w = &want->parameters.rsaDetail;

		return h->scheme.scheme == w->scheme.scheme &&
		       h->scheme.details.rsassa.hashAlg == w->scheme.details.rsassa.hashAlg &&
		       h->keyBits == w->keyBits && h->symmetric.algorithm == TPM2_ALG_NULL;
	}
	return have->parameters.eccDetail.scheme.scheme == TPM2_ALG_ECDSA &&
	       have->parameters.eccDetail.scheme.details.ecdsa.hashAlg == TPM2_ALG_SHA256 &&
	       have->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256 &&
	       have->parameters.eccDetail.symmetric.algorithm == TPM2_ALG_NULL;
}

/* Whether a persistent or NV handle is in use, asked without provoking a logged failure. */
static int handle_present(struct tpm *t, uint32_t handle, bool *present)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	int ret = ESYS(t, Esys_GetCapability, NOSESS, TPM2_CAP_HANDLES, handle, 1, &more, &cap);

	if (!ret)
		*present = cap->data.handles.count == 1 && cap->data.handles.handle[0] == handle;
	Esys_Free(cap);
	return ret;
}

static int ak_create(struct tpm *t, const TPM2B_PUBLIC *tmpl, uint32_t handle)
{
	TPM2B_SENSITIVE_CREATE sens = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION pcrs = {0};
	TPM2B_PUBLIC *pub = NULL, *ppub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_CREATION_DATA *cd = NULL;
	TPM2B_DIGEST *ch = NULL;
	TPMT_TK_CREATION *tk = NULL;
	ESYS_TR primary = ESYS_TR_NONE, obj = ESYS_TR_NONE;
	int ret;

	ret = ESYS(t, Esys_CreatePrimary, ESYS_TR_RH_OWNER, PWSESS, &sens, &srk_template, &outside,
		   &pcrs, &primary, &ppub, &cd, &ch, &tk);
	Esys_Free(cd), Esys_Free(ch), Esys_Free(tk);
	cd = NULL, ch = NULL, tk = NULL;
	if (ret)
		goto cleanup;
	ret = ESYS(t, Esys_Create, primary, PWSESS, &sens, tmpl, &outside, &pcrs, &priv, &pub, &cd,
		   &ch, &tk);
	if (ret)
		goto cleanup;
	ret = ESYS(t, Esys_Load, primary, PWSESS, priv, pub, &obj);
	if (ret)
		goto cleanup;
	ret = ESYS(t, Esys_EvictControl, ESYS_TR_RH_OWNER, obj, PWSESS, handle, &t->ak);
	if (!ret)
		log_info("created the attestation key at persistent handle 0x%x", handle);
cleanup:
	if (obj != ESYS_TR_NONE)
		Esys_FlushContext(t->ctx, obj);
	if (primary != ESYS_TR_NONE)
		Esys_FlushContext(t->ctx, primary);
	Esys_Free(ppub), Esys_Free(pub), Esys_Free(priv);
	Esys_Free(cd), Esys_Free(ch), Esys_Free(tk);
	return ret;
}

int tpm_ak_ensure(struct tpm *t, const struct tpm_ak_opts *opts)
{
	uint32_t handle = opts && opts->handle ? opts->handle : TPM_AK_HANDLE_DEFAULT;
	TPM2B_PUBLIC tmpl, *pub = NULL;
	TPM2B_NAME *name = NULL, *qname = NULL;
	bool present = false;
	int ret;

	if (t->ak != ESYS_TR_NONE && t->ak_handle == handle)
		return 0;
	ak_template(opts ? opts->alg : TPM_AK_ECC, &tmpl);
	if ((ret = handle_present(t, handle, &present)))
		return ret;
	if (!present) {
		ret = ak_create(t, &tmpl, handle);
		goto cleanup;
	}
	if ((ret = ESYS(t, Esys_TR_FromTPMPublic, handle, NOSESS, &t->ak)))
		goto cleanup;
	if ((ret = ESYS(t, Esys_ReadPublic, t->ak, NOSESS, &pub, &name, &qname)))
		goto cleanup;
	if (!ak_matches(&pub->publicArea, &tmpl.publicArea)) {
		log_err("persistent handle 0x%x holds a key that is not aicert's attestation key "
			"(another type or attributes); choose another handle",
			handle);
		ret = -EEXIST;
	}
cleanup:
	if (!ret)
		t->ak_handle = handle;
	else
		t->ak = ESYS_TR_NONE;
	Esys_Free(pub), Esys_Free(name), Esys_Free(qname);
	return ret;
}

/* ---- files ---- */

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	errno = 0;
	f = fopen(path, "we");
	if (!f || fwrite(p, 1, n, f) != n)
		ret = errno ? -errno : -EIO;
	if (f && fclose(f) && !ret)
		ret = -errno;
	if (ret)
		log_err("cannot write %s: %s", path, strerror(-ret));
	return ret;
}

static EVP_PKEY *pub_to_pkey(const TPMT_PUBLIC *p)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;
	uint8_t point[1 + 2 * TPM2_MAX_ECC_KEY_BYTES];
	int ok = bld != NULL;

	if (ok && p->type == TPM2_ALG_RSA) {
		uint32_t exp =
		    p->parameters.rsaDetail.exponent ? p->parameters.rsaDetail.exponent : 65537;

		n = BN_bin2bn(p->unique.rsa.buffer, p->unique.rsa.size, NULL);
		e = BN_new();
		ok = n && e && BN_set_word(e, exp) &&
		     OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
		     OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
		ctx = ok ? EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL) : NULL;
	} else if (ok) {
		const TPMS_ECC_POINT *q = &p->unique.ecc;

		ok = q->x.size == 32 && q->y.size == 32;
		point[0] = 4; /* uncompressed */
		if (ok) {
			memcpy(point + 1, q->x.buffer, 32);
			memcpy(point + 33, q->y.buffer, 32);
		}
		ok = ok &&
		     OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
						     0) &&
		     OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 65);
		ctx = ok ? EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL) : NULL;
	}
	ok = ok && ctx && (params = OSSL_PARAM_BLD_to_param(bld)) &&
	     EVP_PKEY_fromdata_init(ctx) > 0 &&
	     EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0;
	if (!ok)
		log_err("cannot convert the attestation key's public area to an OpenSSL key");
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	return ok ? pkey : NULL;
}

static int write_ak_pem(struct tpm *t, const char *dir)
{
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_NAME *name = NULL, *qname = NULL;
	EVP_PKEY *pkey = NULL;
	char path[4096];
	FILE *f = NULL;
	int ret;

	if ((ret = ESYS(t, Esys_ReadPublic, t->ak, NOSESS, &pub, &name, &qname)))
		goto cleanup;
	if (!(pkey = pub_to_pkey(&pub->publicArea))) {
		ret = -EINVAL;
		goto cleanup;
	}
	snprintf(path, sizeof(path), "%s/ak.pub.pem", dir);
	f = fopen(path, "we");
	if (!f || !PEM_write_PUBKEY(f, pkey)) {
		ret = f ? -EIO : -errno;
		log_err("cannot write %s: %s", path, strerror(-ret));
	}
cleanup:
	if (f && fclose(f) && !ret)
		ret = -errno;
	EVP_PKEY_free(pkey);
	Esys_Free(pub), Esys_Free(name), Esys_Free(qname);
	return ret;
}

static int nv_read_all(struct tpm *t, ESYS_TR nv, uint16_t size, uint8_t *buf)
{
	uint16_t off = 0;
	int ret = 0;

	while (off < size && !ret) {
		TPM2B_MAX_NV_BUFFER *data = NULL;
		uint16_t chunk = size - off > 512 ? 512 : size - off;

		ret = ESYS(t, Esys_NV_Read, ESYS_TR_RH_OWNER, nv, PWSESS, chunk, off, &data);
		if (!ret && data->size != chunk) {
			log_err("NV index 0x%x: short read at offset %u", TPM_AK_CERT_NV, off);
			ret = -EIO;
		}
		if (!ret)
			memcpy(buf + off, data->buffer, chunk);
		Esys_Free(data);
		off += chunk;
	}
	return ret;
}

/* The AK certificate, when the platform provisioned one (DER, maybe zero-padded). */
static int write_ak_cert(struct tpm *t, const char *dir)
{
	TPM2B_NV_PUBLIC *nvpub = NULL;
	TPM2B_NAME *name = NULL;
	ESYS_TR nv = ESYS_TR_NONE;
	uint8_t *der = NULL;
	const uint8_t *p;
	X509 *x = NULL;
	char path[4096];
	FILE *f = NULL;
	bool present = false;
	int ret;

	if ((ret = handle_present(t, TPM_AK_CERT_NV, &present)) || !present)
		goto cleanup;
	if ((ret = ESYS(t, Esys_TR_FromTPMPublic, TPM_AK_CERT_NV, NOSESS, &nv)) ||
	    (ret = ESYS(t, Esys_NV_ReadPublic, nv, NOSESS, &nvpub, &name)))
		goto cleanup;
	der = malloc(nvpub->nvPublic.dataSize + 1);
	if (!der) {
		ret = -ENOMEM;
		goto cleanup;
	}
	if ((ret = nv_read_all(t, nv, nvpub->nvPublic.dataSize, der)))
		goto cleanup;
	p = der;
	if (!(x = d2i_X509(NULL, &p, nvpub->nvPublic.dataSize))) {
		log_warn("NV index 0x%x holds no DER certificate; no ak.cert.pem", TPM_AK_CERT_NV);
		goto cleanup;
	}
	snprintf(path, sizeof(path), "%s/ak.cert.pem", dir);
	if (!(f = fopen(path, "we")) || !PEM_write_X509(f, x)) {
		ret = f ? -EIO : -errno;
		log_err("cannot write %s: %s", path, strerror(-ret));
	}
cleanup:
	if (f && fclose(f) && !ret)
		ret = -errno;
	if (nv != ESYS_TR_NONE)
		Esys_TR_Close(t->ctx, &nv);
	X509_free(x);
	free(der);
	Esys_Free(nvpub), Esys_Free(name);
	return ret;
}

int tpm_quote(struct tpm *t, const struct tpm_ak_opts *opts, uint32_t pcr, const uint8_t *qual,
	      size_t len, const char *dir)
{
	TPM2B_DATA q = {0};
	TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
	TPML_PCR_SELECTION sel = {.count = 1};
	TPM2B_ATTEST *attest = NULL;
	TPMT_SIGNATURE *sig = NULL;
	uint8_t sigbuf[sizeof(TPMT_SIGNATURE)];
	size_t siglen = 0;
	int ret;

	if (len > sizeof(q.buffer)) {
		log_err("qualifying data of %zu bytes is longer than %zu", len, sizeof(q.buffer));
		return -EINVAL;
	}
	if (pcr > 23)
		return -EINVAL;
	if ((ret = tpm_ak_ensure(t, opts)))
		return ret;
	q.size = len;
	memcpy(q.buffer, qual, len);
	select_pcr(&sel.pcrSelections[0], TPM2_ALG_SHA256, pcr);
	sel.pcrSelections[0].pcrSelect[TPM_PCR_IMA / 8] |= 1 << (TPM_PCR_IMA % 8);
	if ((ret = ESYS(t, Esys_Quote, t->ak, PWSESS, &q, &scheme, &sel, &attest, &sig)))
		goto cleanup;
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sigbuf, sizeof(sigbuf), &siglen)) {
		log_err("cannot marshal the quote's signature");
		ret = -EIO;
		goto cleanup;
	}
	if ((ret = write_file(dir, "quote.msg", attest->attestationData, attest->size)) ||
	    (ret = write_file(dir, "quote.sig", sigbuf, siglen)) || (ret = write_ak_pem(t, dir)))
		goto cleanup;
	ret = write_ak_cert(t, dir);
cleanup:
	Esys_Free(attest);
	Esys_Free(sig);
	return ret;
}

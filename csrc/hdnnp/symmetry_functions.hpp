// Atom-centred symmetry functions (n2p2 conventions) with analytic derivatives.
// Header-only; shared by the Python extension and the LAMMPS pair style.
//
// Types (parameters as in n2p2's input.nn, lengths in the structure's length unit):
//   2  radial           sum_j [Z_j==e1] exp(-eta (r_ij - rs)^2) fc(r_ij)
//   3  angular narrow   2^(1-zeta) sum_{j<k} (1 + lambda cos)^zeta exp(-eta[(r_ij-rs)^2 + (r_ik-rs)^2 + (r_jk-rs)^2])
//                       fc(r_ij) fc(r_ik) fc(r_jk)        (pair {e1,e2} unordered)
//   9  angular wide     as 3 without the r_jk factors
//   12 weighted radial  as 2 over all neighbours, weighted by the atomic number Z_j
//   13 weighted narrow  as 3 over all pairs, weighted by Z_j Z_k
//   20 compact radial   sum_j [e1] C_r(r_ij),  C_r compact on (rl, rc)
//   21 compact narrow   sum_{j<k} [pair] C_a(theta) C_r(r_ij) C_r(r_ik) C_r(r_jk)
//   22 compact wide     sum_{j<k} [pair] C_a(theta) C_r(r_ij) C_r(r_ik)
//   23/24/25            weighted versions of 20/21/22 (Z_j, Z_j Z_k)
// (1 + lambda cos) <= 0 contributes 0. Compact angular terms are 0 for cos = +-1 and for theta outside
// [angle_left, angle_right].
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "cutoff.hpp"

// Runtime ISA dispatch for the fused kernels (portable builds; no -march needed): an AVX2+FMA
// clone is called when the CPU has it, the baseline code otherwise.
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HDNNP_SF_DISPATCH 1
#define HDNNP_SF_TARGET __attribute__((target("avx2,fma")))
// AVX-512VL: the same 4-lane code with 32 vector registers (the committee contraction keeps every member's
// accumulators in registers; with AVX2's 16 they spill)
#define HDNNP_SF_TARGET512 __attribute__((target("avx2,fma,avx512f,avx512vl")))
#else
#define HDNNP_SF_DISPATCH 0
#endif
#if defined(__GNUC__)
#define HDNNP_SF_INLINE __attribute__((always_inline)) inline
#define HDNNP_SF_VEC 1
#else
#error "the hdnnp kernels need GCC-compatible vector extensions (GCC, Clang, Intel icx)"
#endif
// 4-lane double vectors are passed only between always-inline functions: no ABI concern.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace hdnnp {

// Subtype codes of compact symmetry functions (types 20-25): core function + optional asymmetry flag.
// n2p2 subtypes: "p1".."p4" -> SUBTYPE_P1..P4, "p1a".."p4a" -> | SUBTYPE_ASYM, "e" -> SUBTYPE_EXP.
enum SymFuncSubtype : int {
    SUBTYPE_NONE = 0, SUBTYPE_P1 = 1, SUBTYPE_P2 = 2, SUBTYPE_P3 = 3, SUBTYPE_P4 = 4, SUBTYPE_EXP = 5,
    SUBTYPE_ASYM = 8
};

struct SymFuncParams {
    int type = 2;
    int subtype = SUBTYPE_NONE;  // compact types only
    int e1 = -1;                 // neighbour element indices (0-based in the potential's element list), -1 if unused
    int e2 = -1;
    double eta = 0.0, rs = 0.0, lambda = 0.0, zeta = 0.0;
    double rc = 0.0;             // outer cutoff / right radial boundary
    double rl = 0.0;             // compact types: left radial boundary
    double angle_left = 0.0;     // compact angular types: angle boundaries in degrees
    double angle_right = 0.0;
    int cutoff_type = CT_TANHU;  // Gaussian types 2, 3, 9, 12, 13
    double cutoff_alpha = 0.0;
};

namespace detail {

inline double pow_int(double x, int n) {
    double r = 1.0;
    if (n < 0) { x = 1.0 / x; n = -n; }
    while (n) {
        if (n & 1) r *= x;
        x *= x;
        n >>= 1;
    }
    return r;
}

inline bool is_radial(int t) { return t == 2 || t == 12 || t == 20 || t == 23; }
inline bool is_compact(int t) { return t >= 20 && t <= 25; }
inline bool is_weighted(int t) { return t == 12 || t == 13 || t == 23 || t == 24 || t == 25; }
inline bool is_narrow(int t) { return t == 3 || t == 13 || t == 21 || t == 24; }

// Taylor polynomial of exp(r) to order 13 for |r| <= ln(2)/2 (Horner), for doubles and vectors.
template <class T>
HDNNP_SF_INLINE T exp_taylor(T r) {
    static constexpr double c[] = {1.6059043836821613e-10, 2.08767569878681e-09, 2.505210838544172e-08,
                                   2.755731922398589e-07, 2.7557319223985893e-06, 2.48015873015873e-05,
                                   0.0001984126984126984, 0.001388888888888889, 0.008333333333333333,
                                   0.041666666666666664, 0.16666666666666666, 0.5, 1.0, 1.0};
    T p = r * 0.0 + c[0];
    for (int i = 1; i < 14; ++i) p = p * r + c[i];
    return p;
}

// exp(x) for x <= 709 (0 below -708), branch-free so that loops over it vectorise; ~2 ulp.
HDNNP_SF_INLINE double fast_exp(double x) {
    double const xc = x < -708.0 ? -708.0 : x;
    double const shift = 6755399441055744.0;  // 1.5 * 2^52
    double const kd = xc * 1.4426950408889634 + shift;
    double const k = kd - shift;
    double const r = (xc - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    double const p = exp_taylor(r);
    std::uint64_t bits;
    std::memcpy(&bits, &kd, sizeof bits);
    bits = (bits + 1023u) << 52;
    double scale;
    std::memcpy(&scale, &bits, sizeof scale);
    double const res = p * scale;
    return x < -708.0 ? 0.0 : res;
}

#if HDNNP_SF_DISPATCH
inline bool sf_cpu_has_avx2() {
    static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return ok;
}
inline bool sf_cpu_has_avx512vl() {
    static const bool ok = sf_cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
    return ok;
}
#endif

// Reductions over arrays padded to a multiple of 4 (explicit partial sums, so they vectorise
// without -ffast-math): sum_i a[i] b[i] (c[i]).
#if HDNNP_SF_VEC
typedef double vd4 __attribute__((vector_size(32)));
HDNNP_SF_INLINE vd4 load4(const double* p) {
    vd4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
HDNNP_SF_INLINE void store4(double* p, vd4 v) { std::memcpy(p, &v, sizeof v); }
HDNNP_SF_INLINE vd4 splat4(double x) { return vd4{x, x, x, x}; }
// base^n (n >= 0) by repeated squaring: the G pass and the derivative arrays form (1 + lambda cos)^(zeta - 1) with
// the same multiplications, so G and its derivatives stay consistent to the last bit.
HDNNP_SF_INLINE vd4 ipow4(vd4 base, int n) {
    vd4 pw = splat4(1.0);
    for (int b = n; b; b >>= 1) {
        if (b & 1) pw *= base;
        if (b >> 1) base *= base;
    }
    return pw;
}
HDNNP_SF_INLINE vd4 sqrt4(vd4 x) {
#if defined(__clang__)
    return vd4{std::sqrt(x[0]), std::sqrt(x[1]), std::sqrt(x[2]), std::sqrt(x[3])};
#else
    return vd4{__builtin_sqrt(x[0]), __builtin_sqrt(x[1]), __builtin_sqrt(x[2]), __builtin_sqrt(x[3])};
#endif
}
typedef long long vi4 __attribute__((vector_size(32)));
// fast_exp on 4 lanes (same arithmetic as fast_exp).
HDNNP_SF_INLINE vd4 fast_exp4(vd4 x) {
    vd4 const lo = splat4(-708.0);
    vd4 const xc = x < lo ? lo : x;
    vd4 const shift = splat4(6755399441055744.0);
    vd4 const kd = xc * 1.4426950408889634 + shift;
    vd4 const k = kd - shift;
    vd4 const r = (xc - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    vd4 const p = exp_taylor(r);
    vi4 bits = (vi4)kd;
    bits = (bits + 1023) << 52;
    vd4 const res = p * (vd4)bits;
    return x < lo ? splat4(0.0) : res;
}
HDNNP_SF_INLINE double hsum4(vd4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }
HDNNP_SF_INLINE double dot2_n4(const double* a, const double* b, std::size_t n4) {
    vd4 s = {0.0, 0.0, 0.0, 0.0};
    for (std::size_t i = 0; i < n4; i += 4) s += load4(a + i) * load4(b + i);
    return hsum4(s);
}
HDNNP_SF_INLINE double sum_n4(const double* a, std::size_t n4) {
    vd4 s = {0.0, 0.0, 0.0, 0.0};
    for (std::size_t i = 0; i < n4; i += 4) s += load4(a + i);
    return hsum4(s);
}
HDNNP_SF_INLINE double dot3_n4(const double* a, const double* b, const double* c, std::size_t n4) {
    vd4 s = {0.0, 0.0, 0.0, 0.0};
    for (std::size_t i = 0; i < n4; i += 4) s += load4(a + i) * load4(b + i) * load4(c + i);
    return hsum4(s);
}
#endif

}  // namespace detail

// All symmetry functions of ONE central element, in n2p2's sorted order (the caller's order is kept).
class ElementDescriptor {
public:
    // atomic_numbers[e] (element index -> Z) is needed only by the weighted types 12, 13, 23, 24, 25.
    ElementDescriptor(std::vector<SymFuncParams> sfs, int n_elements, std::vector<int> atomic_numbers = {})
        : sfs_(std::move(sfs)), n_elements_(n_elements) {
        if (n_elements < 1) throw std::invalid_argument("n_elements must be >= 1");
        weights_.assign(n_elements, 1.0);
        bool need_z = false;
        for (auto const& p : sfs_) need_z = need_z || detail::is_weighted(p.type);
        if (need_z) {
            if ((int)atomic_numbers.size() != n_elements)
                throw std::invalid_argument("weighted symmetry functions need atomic_numbers for every element");
        }
        if (!atomic_numbers.empty()) {
            if ((int)atomic_numbers.size() != n_elements)
                throw std::invalid_argument("atomic_numbers must have n_elements entries");
            for (int e = 0; e < n_elements; ++e) weights_[e] = (double)atomic_numbers[e];
        }
        cutoff_ = 0.0;
        for (int s = 0; s < (int)sfs_.size(); ++s) setup_one(s);
        for (auto const& p : sfs_) cutoff_ = std::max(cutoff_, p.rc);
    }

    int size() const { return (int)sfs_.size(); }
    double cutoff() const { return cutoff_; }
    int n_elements() const { return n_elements_; }
    std::vector<SymFuncParams> const& params() const { return sfs_; }

    // ---- Fused two-pass path (energy + forces without materialising dG) ----
    // prepare() sorts the neighbours and computes the pair terms into this thread's workspace;
    // compute_G() then gives the symmetry functions and, once the network has given dE/dG,
    // contract() gives g[3k + c] = sum_s dEdG[s] dG_s / dr_{k,c} (neighbour k in the caller's order)
    // directly, per triplet, instead of the nsf x nneigh x 3 derivative array. The workspace is
    // valid until the next prepare()/compute() on the same thread; rij and neigh_elem must stay
    // alive until contract() returns.
    void prepare(int nneigh, const double* rij, const int* neigh_elem) const {
        Scratch& sc = scratch();
        if (nneigh <= 0) { sc.nn = 0; sc.cache_ok = false; sc.rij_in = rij; sc.ne_in = neigh_elem; return; }
#if HDNNP_SF_DISPATCH
        if (detail::sf_cpu_has_avx2()) { prepare_hw(nneigh, rij, neigh_elem, sc); return; }
#endif
        prepare_impl(nneigh, rij, neigh_elem, sc);
    }
    void compute_G(double* G) const {
        Scratch& sc = scratch();
        for (int s = 0; s < size(); ++s) G[s] = 0.0;
        if (sc.nn == 0 || size() == 0) return;
#if HDNNP_SF_DISPATCH
        if (detail::sf_cpu_has_avx2()) { fused_hw<false>(sc, G, nullptr, nullptr); return; }
#endif
        fused_impl<false>(sc, G, nullptr, nullptr);
    }
    void contract(const double* dEdG, double* g) const {
        Scratch& sc = scratch();
        std::size_t const nn = sc.nn;
        for (std::size_t k = 0; k < 3 * nn; ++k) g[k] = 0.0;
        if (nn == 0 || size() == 0) return;
        if (!fast_) {  // compact / weighted angular functions: full derivatives, then contract
            int const nsf = size();
            sc.dGfull.resize((std::size_t)nsf * nn * 3);
            std::vector<double> Gtmp((std::size_t)nsf);
            compute((int)nn, sc.rij_in, sc.ne_in, Gtmp.data(), sc.dGfull.data());
            for (int s = 0; s < nsf; ++s) {
                double const w = dEdG[s];
                if (w == 0.0) continue;
                const double* row = sc.dGfull.data() + (std::size_t)s * nn * 3;
                for (std::size_t k = 0; k < 3 * nn; ++k) g[k] += w * row[k];
            }
            return;
        }
#if HDNNP_SF_DISPATCH
        if (detail::sf_cpu_has_avx2()) { fused_hw<true>(sc, nullptr, dEdG, g); return; }
#endif
        fused_impl<true>(sc, nullptr, dEdG, g);
    }

    // contract() for M weight vectors at once (a committee's members on one atom's shared symmetry
    // functions): g[m * 3 * nneigh + 3k + c] = sum_s W[m * ldw + s] dG_s/dr_{k,c}. The geometric
    // factors of every triplet are formed once and shared by the members. Same workspace rules as
    // contract(); it must follow compute_G() for the same atom.
    void contract_multi(int M, const double* W, int ldw, double* g) const {
        Scratch& sc = scratch();
        std::size_t const nn = sc.nn;
        if (M <= 0) return;
        if (!fast_ || M == 1 || !sc.cache_ok || nn == 0 || size() == 0) {
            for (int m = 0; m < M; ++m) contract(W + (std::size_t)m * ldw, g + (std::size_t)m * 3 * nn);
            return;
        }
#if HDNNP_SF_DISPATCH
        if (detail::sf_cpu_has_avx512vl()) { multi_512(sc, M, W, ldw, g); return; }
        if (detail::sf_cpu_has_avx2()) { multi_hw(sc, M, W, ldw, g); return; }
#endif
        multi_impl(sc, M, W, ldw, g);
    }

    // G[size()]; if dG != nullptr: dG[(s*nneigh + k)*3 + c] = dG_s / d r_{neighbour k, c}.
    // rij = r_j - r_i (3*nneigh), neigh_elem[k] = element index of neighbour k.
    void compute(int nneigh, const double* rij, const int* neigh_elem, double* G, double* dG) const {
        int const nsf = size();
        for (int s = 0; s < nsf; ++s) G[s] = 0.0;
        if (dG) std::fill(dG, dG + (std::size_t)nsf * nneigh * 3, 0.0);
        if (nneigh <= 0 || nsf == 0) return;
        if (!dG) {  // G only: the fast path
            prepare(nneigh, rij, neigh_elem);
            compute_G(G);
            return;
        }
        Scratch& sc = scratch();
        std::size_t const nn = (std::size_t)nneigh;
        prepare_impl(nneigh, rij, neigh_elem, sc);
        double* dGl = nullptr;
        if (dG) {
            sc.dGl.assign((std::size_t)nsf * nn * 3, 0.0);
            dGl = sc.dGl.data();
        }
        const int* le = sc.le.data();
        // Radial symmetry functions.
        for (RadialSF const& rs : radial_) {
            double const* g = sc.g.data() + rs.rterm * nn;
            double const* dg = sc.dg.data() + rs.rterm * nn;
            std::size_t k0 = 0, k1 = nn;
            if (!rs.weighted) { k0 = sc.estart[rs.e1]; k1 = sc.estart[rs.e1 + 1]; }
            double sum = 0.0;
            double* d = dGl ? dGl + (std::size_t)rs.s * nn * 3 : nullptr;
            for (std::size_t k = k0; k < k1; ++k) {
                double const w = rs.weighted ? weights_[le[k]] : 1.0;
                sum += w * g[k];
                if (d) {
                    double const c = w * dg[k] * sc.rinv[k];
                    d[3 * k] += c * sc.x[k];
                    d[3 * k + 1] += c * sc.y[k];
                    d[3 * k + 2] += c * sc.z[k];
                }
            }
            G[rs.s] += sum;
        }
        // Angular groups.
        for (AngularGroup const& grp : groups_) {
            if (!grp.compact && !grp.weighted) compute_group_exp(grp, nn, sc, G, dGl);
            else compute_group(grp, nneigh, le, sc, G, dGl);
        }
        if (dG) {
            for (int s = 0; s < nsf; ++s) {
                double const* src = dGl + (std::size_t)s * nn * 3;
                double* dst = dG + (std::size_t)s * nn * 3;
                for (std::size_t l = 0; l < nn; ++l) {
                    std::size_t const k = (std::size_t)sc.perm[l];
                    dst[3 * k] = src[3 * l];
                    dst[3 * k + 1] = src[3 * l + 1];
                    dst[3 * k + 2] = src[3 * l + 2];
                }
            }
        }
    }

private:
    struct RadialTerm {
        bool compact = false;
        double eta = 0.0, rs = 0.0;
        int cslot = -1;
        CompactFunction cf;
        double rl = 0.0, rc = 0.0;
        int subtype = 0;
    };
    struct RadialSF {
        int s, rterm, e1;
        bool weighted;
    };
    struct Member {
        int s;
        int rterm;             // pair term (index into rterms_)
        int jkterm;            // exp types, narrow: index into group's jk exponent list
        int ang;               // exp types: index into the group's distinct (lambda, zeta) list
        int rtl;               // exp types: index into the group's distinct pair-term list (rts)
        double lambda, zeta, pnorm;
        int zeta_int;
        bool int_pow;
        CompactFunction ca;    // compact types: angular function (radians)
        double al, ar;         // compact: angle boundaries (radians)
    };
    struct AngularGroup {
        int type;
        int e1, e2;
        bool weighted, narrow, compact;
        double rc, rl;
        int cslot;             // exp types: cutoff slot
        CutoffFunction fc;     // exp types
        CompactFunction cr;    // compact types: radial function (for r_jk)
        int subtype;
        std::vector<double> jk_eta, jk_rs;
        std::vector<double> ang_lambda, ang_zeta, ang_pnorm;
        std::vector<int> ang_zint;
        std::vector<char> ang_intpow;
        std::vector<Member> members;
        std::vector<int> rts;  // exp types: distinct pair terms of the members (Member::rtl indexes it)
    };
    struct Scratch {
        std::vector<double> r, rinv, rv, fc, dfc, g, dg;
        std::vector<int> list, perm, le, estart, cursor, kk;
        std::vector<double> ejk, x, y, z, dGl;
        // per-j work arrays of the Gaussian angular groups
        std::vector<double> cosv, rjkv, rjkinv, h, dh, A, Ap, tmp;
        // fused two-pass path (prepare / compute_G / contract)
        std::size_t nn = 0;
        const double* rij_in = nullptr;
        const int* ne_in = nullptr;
        std::vector<double> fx, fy, fz, fr;
        std::vector<double> rjk2, xk, yk, zk, rik, gk, dgk, P, Q, S, T, caj, cx;
        std::vector<double> dGfull, local;
        // contract_multi: per-member forces (mf), the members' weights and the per-j arrays with the pair term of
        // r_ij folded in (mc), skipped and weighted functions (mskip), the pair terms at the current j (mpair)
        std::vector<double> mf, mc;
        std::vector<char> mskip;
        std::vector<double> mpair;
        // per-(group, j) arrays of the G pass, reused by contract() (cache_ok: valid for this atom)
        struct Rec { std::size_t n, off, ioff; };
        std::vector<Rec> recs;
        std::vector<std::size_t> rec_start;
        std::vector<double> cache;
        std::vector<int> icache;
        std::size_t cache_used = 0, icache_used = 0;
        bool cache_ok = false;
    };
    HDNNP_SF_INLINE void prepare_impl(int nneigh, const double* rij, const int* neigh_elem, Scratch& sc) const {
        std::size_t const nn = (std::size_t)nneigh;
        sc.nn = nn;
        sc.cache_ok = false;
        sc.rij_in = rij;
        sc.ne_in = neigh_elem;
        // Local order: neighbours grouped by element (stable), structure-of-arrays.
        sc.estart.assign(n_elements_ + 1, 0);
        for (std::size_t k = 0; k < nn; ++k) {
            int const e = neigh_elem[k];
            if (e < 0 || e >= n_elements_) throw std::invalid_argument("neighbour element index out of range");
            ++sc.estart[e + 1];
        }
        for (int e = 0; e < n_elements_; ++e) sc.estart[e + 1] += sc.estart[e];
        sc.cursor.assign(sc.estart.begin(), sc.estart.end() - 1);
        sc.perm.resize(nn);
        sc.le.resize(nn);
        sc.r.resize(nn); sc.rinv.resize(nn); sc.rv.resize(3 * nn);
        sc.x.resize(nn); sc.y.resize(nn); sc.z.resize(nn);
        for (std::size_t k = 0; k < nn; ++k) {
            int const e = neigh_elem[k];
            std::size_t const l = (std::size_t)sc.cursor[e]++;
            sc.perm[l] = (int)k;
            sc.le[l] = e;
            double const x = rij[3 * k], y = rij[3 * k + 1], z = rij[3 * k + 2];
            double const r = std::sqrt(x * x + y * y + z * z);
            sc.r[l] = r;
            sc.rinv[l] = 1.0 / r;
            sc.rv[3 * l] = x; sc.rv[3 * l + 1] = y; sc.rv[3 * l + 2] = z;
            sc.x[l] = x; sc.y[l] = y; sc.z[l] = z;
        }
        // Pair terms: cutoff slots, then radial terms.
        std::size_t const ncs = cslots_.size(), nrt = rterms_.size();
        sc.fc.resize(ncs * nn);
        sc.dfc.resize(ncs * nn);
        for (std::size_t c = 0; c < ncs; ++c) {
            CutoffFunction const& f = cslots_[c];
            double* fc = sc.fc.data() + c * nn;
            double* dfc = sc.dfc.data() + c * nn;
            for (std::size_t k = 0; k < nn; ++k) f.fdf(sc.r[k], fc[k], dfc[k]);
        }
        sc.g.resize(nrt * nn);
        sc.dg.resize(nrt * nn);
        for (std::size_t t = 0; t < nrt; ++t) {
            RadialTerm const& rt = rterms_[t];
            double* g = sc.g.data() + t * nn;
            double* dg = sc.dg.data() + t * nn;
            if (rt.compact) {
                for (std::size_t k = 0; k < nn; ++k) {
                    double const r = sc.r[k];
                    if (r > rt.rl && r < rt.rc) rt.cf.fdf(r, g[k], dg[k]);
                    else { g[k] = 0.0; dg[k] = 0.0; }
                }
            } else {
                double const* fc = sc.fc.data() + rt.cslot * nn;
                double const* dfc = sc.dfc.data() + rt.cslot * nn;
                for (std::size_t k = 0; k < nn; ++k) {
                    double const d = sc.r[k] - rt.rs;
                    double const e = detail::fast_exp(-rt.eta * d * d);
                    g[k] = e * fc[k];
                    dg[k] = e * (dfc[k] - 2.0 * rt.eta * d * fc[k]);
                }
            }
        }
    }

#if HDNNP_SF_DISPATCH
    HDNNP_SF_TARGET void prepare_hw(int nneigh, const double* rij, const int* neigh_elem, Scratch& sc) const {
        prepare_impl(nneigh, rij, neigh_elem, sc);
    }
    template <bool F>
    HDNNP_SF_TARGET void fused_hw(Scratch& sc, double* G, const double* dEdG, double* gout) const {
        fused_impl<F>(sc, G, dEdG, gout);
    }
    HDNNP_SF_TARGET void multi_hw(Scratch& sc, int M, const double* W, int ldw, double* gout) const {
        multi_impl(sc, M, W, ldw, gout);
    }
    HDNNP_SF_TARGET512 void multi_512(Scratch& sc, int M, const double* W, int ldw, double* gout) const {
        multi_impl(sc, M, W, ldw, gout);
    }
#endif

    // contract_multi's fast path (Gaussian angular groups only, after compute_G for this atom).
    // Per member m: mf[(4m + 0..2) * nn + l] = force components, mf[(4m + 3) * nn + l] = radial coefficient.
    HDNNP_SF_INLINE void multi_impl(Scratch& sc, int M, const double* W, int ldw, double* gout) const {
        std::size_t const nn = sc.nn;
        const int* le = sc.le.data();
        sc.mf.assign((std::size_t)4 * M * nn, 0.0);
        for (int m = 0; m < M; ++m) {
            const double* w = W + (std::size_t)m * ldw;
            double* fr = sc.mf.data() + (std::size_t)(4 * m + 3) * nn;
            for (RadialSF const& rs : radial_) {
                double const Wm = w[rs.s];
                if (Wm == 0.0) continue;
                double const* dg = sc.dg.data() + rs.rterm * nn;
                std::size_t k0 = 0, k1 = nn;
                if (!rs.weighted) { k0 = sc.estart[rs.e1]; k1 = sc.estart[rs.e1 + 1]; }
                if (rs.weighted) for (std::size_t k = k0; k < k1; ++k) fr[k] += Wm * weights_[le[k]] * dg[k];
                else for (std::size_t k = k0; k < k1; ++k) fr[k] += Wm * dg[k];
            }
            double* fx = sc.mf.data() + (std::size_t)(4 * m) * nn;
            double* fy = fx + nn;
            double* fz = fy + nn;
            for (std::size_t k = 0; k < nn; ++k) {
                double const c = fr[k] * sc.rinv[k];
                fx[k] += c * sc.x[k];
                fy[k] += c * sc.y[k];
                fz[k] += c * sc.z[k];
            }
        }
        for (std::size_t gi = 0; gi < groups_.size(); ++gi) group_multi(gi, groups_[gi], sc, M, W, ldw);
        for (int m = 0; m < M; ++m) {
            const double* fx = sc.mf.data() + (std::size_t)(4 * m) * nn;
            const double* fy = fx + nn;
            const double* fz = fy + nn;
            double* go = gout + (std::size_t)m * 3 * nn;
            for (std::size_t l = 0; l < nn; ++l) {
                std::size_t const k = (std::size_t)sc.perm[l];
                go[3 * k] = fx[l];
                go[3 * k + 1] = fy[l];
                go[3 * k + 2] = fz[l];
            }
        }
    }

    // The members' P, Q, S, T of one (j, group) over blocks of four triplets, MC members at a time (a compile-time
    // count, so that their accumulators stay in registers). The pair term of r_ij is folded into the per-j arrays
    // (gg = g(r_ik) g(r_ij), dgg = g'(r_ik) g(r_ij), gd = g(r_ik) g'(r_ij), per distinct pair term), so that a
    // member's coefficient of function si is its weight WT[si * M + m] alone, the same for every j.
    struct AccArgs {
        std::size_t n4, L, ns;
        const char* skip;
        const Member* members;
        const double *AB, *Ap, *gg, *dgg, *gd, *hB, *dh, *WT;
        int M;
        double *P, *Q, *S, *T;
    };
    template <int MC, bool NARROW>
    HDNNP_SF_INLINE static void accumulate(AccArgs const& a) {
        using detail::vd4;
        using detail::load4;
        using detail::store4;
        vd4 const zero = detail::splat4(0.0);
        for (std::size_t i = 0; i < a.n4; i += 4) {
            vd4 acc[4 * MC];
            for (int q = 0; q < 4 * MC; ++q) acc[q] = zero;
            for (std::size_t si = 0; si < a.ns; ++si) {
                if (a.skip[si]) continue;
                Member const& mb = a.members[si];
                std::size_t const t = (std::size_t)mb.rtl * a.L + i;
                vd4 const av = load4(a.AB + (std::size_t)mb.ang * a.n4 + i);
                vd4 const apv = load4(a.Ap + (std::size_t)mb.ang * a.L + i);
                vd4 const gv = load4(a.gg + t);
                vd4 const dgv = load4(a.dgg + t);
                vd4 const gdv = load4(a.gd + t);
                const double* w = a.WT + si * a.M;
                if (NARROW) {
                    vd4 const hv = load4(a.hB + (std::size_t)mb.jkterm * a.n4 + i);
                    vd4 const dhv = load4(a.dh + (std::size_t)mb.jkterm * a.L + i);
                    vd4 const ah = av * hv;
                    vd4 const x1 = apv * gv * hv, x2 = ah * gdv, x3 = ah * dgv, x4 = av * gv * dhv;
                    for (int m = 0; m < MC; ++m) {
                        vd4 const wm = detail::splat4(w[m]);
                        acc[4 * m] += wm * x1;
                        acc[4 * m + 1] += wm * x2;
                        acc[4 * m + 2] += wm * x3;
                        acc[4 * m + 3] += wm * x4;
                    }
                } else {
                    vd4 const x1 = apv * gv, x2 = av * gdv, x3 = av * dgv;
                    for (int m = 0; m < MC; ++m) {
                        vd4 const wm = detail::splat4(w[m]);
                        acc[4 * m] += wm * x1;
                        acc[4 * m + 1] += wm * x2;
                        acc[4 * m + 2] += wm * x3;
                    }
                }
            }
            for (int m = 0; m < MC; ++m) {
                std::size_t const o = (std::size_t)m * a.L + i;
                store4(a.P + o, acc[4 * m]);
                store4(a.Q + o, acc[4 * m + 1]);
                store4(a.S + o, acc[4 * m + 2]);
                store4(a.T + o, NARROW ? acc[4 * m + 3] : zero);
            }
        }
    }

    // group_fused<true> for M members: the derivative arrays once per (j, group), then per block of
    // four triplets and per symmetry function the four geometric products once, accumulated into every
    // member's P, Q, S, T (registers, up to kMulti members per sweep).
    static constexpr int kMulti = 8;
    HDNNP_SF_INLINE void group_multi(std::size_t gi, AngularGroup const& grp, Scratch& sc, int M, const double* W,
                                     int ldw) const {
        std::size_t const nn = sc.nn;
        int const e1 = grp.e1, e2 = grp.e2;
        std::size_t const j0 = sc.estart[e1], j1 = sc.estart[e1 + 1];
        std::size_t const kb = sc.estart[e2], ke = sc.estart[e2 + 1];
        if (j0 == j1 || kb == ke) return;
        std::size_t const ns = grp.members.size();
        {
            bool any = false;
            for (Member const& mb : grp.members)
                for (int m = 0; m < M && !any; ++m) any = W[(std::size_t)m * ldw + mb.s] != 0.0;
            if (!any) return;
        }
        double const rc = grp.rc;
        bool const narrow = grp.narrow;
        std::size_t const nq = grp.jk_eta.size(), na = grp.ang_lambda.size(), nt = grp.rts.size();
        std::size_t const L = ((ke - kb) + 3) & ~(std::size_t)3;
        std::size_t ridx = sc.rec_start[gi];
        sc.rjkinv.resize(L); sc.dh.resize(nq * L); sc.Ap.resize(na * L); sc.dgk.resize(nt * L);
        sc.P.resize((std::size_t)M * L); sc.Q.resize((std::size_t)M * L); sc.S.resize((std::size_t)M * L);
        sc.T.resize((std::size_t)M * L); sc.caj.resize(L); sc.cx.resize(L);
        sc.mc.resize((std::size_t)M * ns + 3 * nt * L);
        sc.mskip.resize(2 * ns);
        const double* Rn = sc.r.data();
        double* WT = sc.mc.data();                       // WT[si * M + m] = W_m,s (this atom)
        double* gg = WT + (std::size_t)M * ns;           // per distinct pair term t, row t * L: see AccArgs
        double* dgg = gg + nt * L;
        double* gd = dgg + nt * L;
        char* skip = sc.mskip.data();
        char* wlive = sc.mskip.data() + ns;              // some member weights function si
        for (std::size_t si = 0; si < ns; ++si) {
            int const s = grp.members[si].s;
            bool live = false;
            for (int m = 0; m < M; ++m) {
                double const w = W[(std::size_t)m * ldw + s];
                WT[si * M + m] = w;
                live = live || w != 0.0;
            }
            wlive[si] = live;
        }
        sc.mpair.resize(2 * nt);
        double* gt = sc.mpair.data();      // the distinct pair terms g, g' at the current j
        double* dgt = gt + nt;
        for (std::size_t j = j0; j < j1; ++j) {
            if (!(Rn[j] < rc)) continue;
            std::size_t const k0 = (e1 == e2) ? j + 1 : kb;
            if (k0 >= ke) continue;
            typename Scratch::Rec const& rec = sc.recs[ridx++];
            std::size_t const n = rec.n;
            if (n == 0) continue;
            std::size_t const n4 = (n + 3) & ~(std::size_t)3;
            double* cb = sc.cache.data() + rec.off;
            const int* kk = sc.icache.data() + rec.ioff;
            bool tlive = false;
            for (std::size_t t = 0; t < nt; ++t) {
                gt[t] = sc.g[(std::size_t)grp.rts[t] * nn + j];
                dgt[t] = sc.dg[(std::size_t)grp.rts[t] * nn + j];
                tlive = tlive || gt[t] != 0.0 || dgt[t] != 0.0;
            }
            if (!tlive) continue;
            bool anym = false;
            for (std::size_t si = 0; si < ns; ++si) {
                std::size_t const t = (std::size_t)grp.members[si].rtl;
                bool const live = wlive[si] && (gt[t] != 0.0 || dgt[t] != 0.0);
                skip[si] = !live;
                anym = anym || live;
            }
            if (!anym) continue;
            double* cosv = cb + 4 * n4; double* rjk = cb + 5 * n4; double* fcv = cb + 6 * n4; double* dfcv = cb + 7 * n4;
            double* hB = cb + 8 * n4;
            double* eB = cb + (8 + nq) * n4;
            double* AB = cb + (8 + 2 * nq) * n4;
            double* gkB = cb + (8 + 2 * nq + na) * n4;
            derivative_arrays(grp, sc, kk, n, n4, L, rjk, eB, fcv, dfcv, cosv);
            {
                using detail::vd4;
                using detail::load4;
                using detail::store4;
                for (std::size_t t = 0; t < nt; ++t) {
                    vd4 const g1 = detail::splat4(gt[t]), d1 = detail::splat4(dgt[t]);
                    const double* gk = gkB + t * n4;
                    const double* dgk = sc.dgk.data() + t * L;
                    for (std::size_t i = 0; i < n4; i += 4) {
                        vd4 const gv = load4(gk + i);
                        store4(gg + t * L + i, gv * g1);
                        store4(dgg + t * L + i, load4(dgk + i) * g1);
                        store4(gd + t * L + i, gv * d1);
                    }
                }
            }
            for (int mb0 = 0; mb0 < M; mb0 += kMulti) {
                int const mc = M - mb0 < kMulti ? M - mb0 : kMulti;
                AccArgs const aa{n4, L, ns, skip, grp.members.data(), AB, sc.Ap.data(), gg, dgg, gd, hB,
                                 sc.dh.data(), WT + mb0, M, sc.P.data() + (std::size_t)mb0 * L,
                                 sc.Q.data() + (std::size_t)mb0 * L, sc.S.data() + (std::size_t)mb0 * L,
                                 sc.T.data() + (std::size_t)mb0 * L};
                switch (mc * 2 + (narrow ? 1 : 0)) {
#define HDNNP_ACC(n) case 2 * n: accumulate<n, false>(aa); break; case 2 * n + 1: accumulate<n, true>(aa); break;
                    HDNNP_ACC(1) HDNNP_ACC(2) HDNNP_ACC(3) HDNNP_ACC(4) HDNNP_ACC(5) HDNNP_ACC(6) HDNNP_ACC(7) HDNNP_ACC(8)
#undef HDNNP_ACC
                    default: break;
                }
            }
            for (int m = 0; m < M; ++m) {
                double* fx = sc.mf.data() + (std::size_t)(4 * m) * nn;
                std::size_t const o = (std::size_t)m * L;
                triplet_forces(sc, sc.P.data() + o, sc.Q.data() + o, sc.S.data() + o, sc.T.data() + o, narrow, kk, n,
                               n4, j, cb, fx, fx + nn, fx + 2 * nn);
            }
        }
    }

    // F = false: G (zeroed by the caller). F = true: g = sum_s dEdG_s dG_s/dr (caller's order).
    template <bool F>
    HDNNP_SF_INLINE void fused_impl(Scratch& sc, double* G, const double* dEdG, double* gout) const {
        std::size_t const nn = sc.nn;
        const int* le = sc.le.data();
        if (F) {
            sc.fx.assign(nn, 0.0); sc.fy.assign(nn, 0.0); sc.fz.assign(nn, 0.0); sc.fr.assign(nn, 0.0);
        }
        // Radial functions. Forces: a scalar coefficient per neighbour, times r_vec / r at the end.
        for (RadialSF const& rs : radial_) {
            double const* g = sc.g.data() + rs.rterm * nn;
            double const* dg = sc.dg.data() + rs.rterm * nn;
            std::size_t k0 = 0, k1 = nn;
            if (!rs.weighted) { k0 = sc.estart[rs.e1]; k1 = sc.estart[rs.e1 + 1]; }
            if (!F) {
                double sum = 0.0;
                if (rs.weighted) for (std::size_t k = k0; k < k1; ++k) sum += weights_[le[k]] * g[k];
                else for (std::size_t k = k0; k < k1; ++k) sum += g[k];
                G[rs.s] += sum;
            } else {
                double const W = dEdG[rs.s];
                if (W == 0.0) continue;
                double* fr = sc.fr.data();
                if (rs.weighted) for (std::size_t k = k0; k < k1; ++k) fr[k] += W * weights_[le[k]] * dg[k];
                else for (std::size_t k = k0; k < k1; ++k) fr[k] += W * dg[k];
            }
        }
        if (F) {
            double* fx = sc.fx.data(); double* fy = sc.fy.data(); double* fz = sc.fz.data();
            for (std::size_t k = 0; k < nn; ++k) {
                double const c = sc.fr[k] * sc.rinv[k];
                fx[k] += c * sc.x[k];
                fy[k] += c * sc.y[k];
                fz[k] += c * sc.z[k];
            }
        }
        if (!F) {
            sc.recs.clear();
            sc.cache_used = 0;
            sc.icache_used = 0;
            sc.rec_start.assign(groups_.size(), 0);
        }
        for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
            AngularGroup const& grp = groups_[gi];
            if (!grp.compact && !grp.weighted) group_fused<F>(gi, grp, sc, G, dEdG);
            else if (!F) compute_group(grp, (int)nn, le, sc, G, nullptr);
        }
        if (!F) sc.cache_ok = true;
        if (F) {
            for (std::size_t l = 0; l < nn; ++l) {
                std::size_t const k = (std::size_t)sc.perm[l];
                gout[3 * k] = sc.fx[l];
                gout[3 * k + 1] = sc.fy[l];
                gout[3 * k + 2] = sc.fz[l];
            }
        }
    }

    // Derivative-only arrays of one (j, group) record, shared by contract() and contract_multi(): dg_t(r_ik) per
    // radial term (sc.dgk), 1/r_jk (sc.rjkinv) and d h_q / d r_jk (sc.dh) for narrow groups, and the angular
    // factors' derivatives d A_a / d cos (sc.Ap). rjk, eB, fcv, dfcv, cosv: the record's cached arrays.
    HDNNP_SF_INLINE void derivative_arrays(AngularGroup const& grp, Scratch& sc, const int* kk, std::size_t n,
                                           std::size_t n4, std::size_t L, const double* rjk, const double* eB,
                                           const double* fcv, const double* dfcv, const double* cosv) const {
        using detail::vd4;
        using detail::load4;
        using detail::store4;
        vd4 const one = detail::splat4(1.0), zero = detail::splat4(0.0);
        std::size_t const nn = sc.nn;
        std::size_t const nq = grp.jk_eta.size(), na = grp.ang_lambda.size(), nt = grp.rts.size();
        for (std::size_t t = 0; t < nt; ++t) {
            const double* dgt = sc.dg.data() + (std::size_t)grp.rts[t] * nn;
            double* dgkt = sc.dgk.data() + t * L;
            for (std::size_t i = 0; i < n; ++i) dgkt[i] = dgt[kk[i]];
            for (std::size_t i = n; i < n4; ++i) dgkt[i] = 0.0;
        }
        if (grp.narrow) {
            double* rjkinv = sc.rjkinv.data();
            for (std::size_t i = 0; i < n4; i += 4) store4(rjkinv + i, one / load4(rjk + i));
            for (std::size_t q = 0; q < nq; ++q) {
                vd4 const eta = detail::splat4(grp.jk_eta[q]), rs = detail::splat4(grp.jk_rs[q]);
                const double* ev = eB + q * n4;
                double* dh = sc.dh.data() + q * L;
                for (std::size_t i = 0; i < n4; i += 4) {
                    vd4 const d = load4(rjk + i) - rs;
                    store4(dh + i, load4(ev + i) * (load4(dfcv + i) - 2.0 * eta * d * load4(fcv + i)));
                }
            }
        }
        for (std::size_t a = 0; a < na; ++a) {
            double* Ap = sc.Ap.data() + a * L;
            double const lam = grp.ang_lambda[a], zeta = grp.ang_zeta[a], pnorm = grp.ang_pnorm[a];
            int const nexp = grp.ang_zint[a] - 1;
            if (grp.ang_intpow[a] && nexp >= 0) {
                vd4 const vl = detail::splat4(lam), vzl = detail::splat4(pnorm * zeta * lam);
                for (std::size_t i = 0; i < n4; i += 4) {
                    vd4 const pl = one + vl * load4(cosv + i);
                    store4(Ap + i, pl > zero ? vzl * detail::ipow4(pl, nexp) : zero);
                }
            } else {
                for (std::size_t i = 0; i < n4; ++i) {
                    double const pl = 1.0 + lam * cosv[i];
                    Ap[i] = pl <= 0.0 ? 0.0 : pnorm * zeta * lam * std::pow(pl, zeta - 1.0);
                }
            }
        }
    }

    // The forces of one (j, group) record from its summed P, Q, S, T (S is overwritten): the triplet's
    // coefficients on r_ij and r_ik, added to neighbour j and to every k (fx, fy, fz in sorted order). cb: the
    // record's cached arrays (xk yk zk rik cosv ...).
    HDNNP_SF_INLINE static void triplet_forces(Scratch& sc, const double* P, const double* Q, double* S, const double* T,
                                               bool narrow, const int* kk, std::size_t n, std::size_t n4, std::size_t j,
                                               const double* cb, double* fx, double* fy, double* fz) {
        using detail::vd4;
        using detail::load4;
        using detail::store4;
        vd4 const zero = detail::splat4(0.0);
        const double* xk = cb; const double* yk = cb + n4; const double* zk = cb + 2 * n4; const double* rik = cb + 3 * n4;
        const double* cosv = cb + 4 * n4;
        const double* rjkinv = sc.rjkinv.data();
        double const xj = sc.x[j], yj = sc.y[j], zj = sc.z[j], rinvj = sc.rinv[j];
        double* caj = sc.caj.data();
        double* cx = sc.cx.data();
        vd4 const vrj = detail::splat4(rinvj), vrj2 = detail::splat4(rinvj * rinvj);
        // cbk goes to S.
        for (std::size_t i = 0; i < n4; i += 4) {
            vd4 const ri = load4(rik + i), p = load4(P + i);
            vd4 const tj = narrow ? load4(T + i) * load4(rjkinv + i) : zero;
            vd4 const pc = p * load4(cosv + i);
            store4(caj + i, -pc * vrj2 + load4(Q + i) * vrj + tj);
            store4(cx + i, p * vrj * ri - tj);
            store4(S + i, -pc * ri * ri + load4(S + i) * ri + tj);
        }
        double const sa = detail::sum_n4(caj, n4);
        fx[j] += sa * xj + detail::dot2_n4(cx, xk, n4);
        fy[j] += sa * yj + detail::dot2_n4(cx, yk, n4);
        fz[j] += sa * zj + detail::dot2_n4(cx, zk, n4);
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t const k = (std::size_t)kk[i];
            fx[k] += cx[i] * xj + S[i] * xk[i];
            fy[k] += cx[i] * yj + S[i] * yk[i];
            fz[k] += cx[i] * zj + S[i] * zk[i];
        }
    }

    // Gaussian angular group (types 3, 9, element-resolved). Per central-neighbour j: the k that take
    // part are compacted (branch-free) into contiguous arrays padded to a multiple of 4 with
    // zero-weight entries; then every (j, k) quantity is computed in vectorisable loops over k.
    // F = false: G of the members. F = true: with the member weights W_s = dE/dG_s the triplet's
    // derivative collapses to 4 scalars (P, Q, S, T), summed over members, and 2 vector updates.
    template <bool F>
    HDNNP_SF_INLINE void group_fused(std::size_t gi, AngularGroup const& grp, Scratch& sc, double* G, const double* dEdG) const {
        std::size_t const nn = sc.nn;
        int const e1 = grp.e1, e2 = grp.e2;
        std::size_t const j0 = sc.estart[e1], j1 = sc.estart[e1 + 1];
        std::size_t const kb = sc.estart[e2], ke = sc.estart[e2 + 1];
        if (j0 == j1 || kb == ke) return;
        if (F) {
            bool any = false;
            for (Member const& m : grp.members) any = any || dEdG[m.s] != 0.0;
            if (!any) return;
        }
        double const rc = grp.rc, rc2 = rc * rc;
        bool const narrow = grp.narrow;
        std::size_t const nq = grp.jk_eta.size(), na = grp.ang_lambda.size(), nt = grp.rts.size();
        std::size_t const L = ((ke - kb) + 3) & ~(std::size_t)3;
        std::size_t const narr = 8 + 2 * nq + na + nt;  // per-j arrays kept from the G pass
        bool const use_cache = F && sc.cache_ok;
        std::size_t ridx = sc.rec_start[gi];
        if (!F) sc.rec_start[gi] = sc.recs.size();
        sc.kk.resize(L); sc.rjk2.resize(L); sc.local.resize(narr * L);
        sc.rjkinv.resize(L); sc.dh.resize(nq * L); sc.Ap.resize(na * L); sc.dgk.resize(nt * L);
        sc.P.resize(L); sc.Q.resize(L); sc.S.resize(L); sc.T.resize(L); sc.caj.resize(L); sc.cx.resize(L);
        bool const tanh_ct = grp.fc.type == CT_TANHU || grp.fc.type == CT_TANH;
        double const tpre = grp.fc.type == CT_TANH ? CutoffFunction::tanh_pre() : 1.0;
        double const rcinv = grp.fc.rcinv;
        const double* X = sc.x.data();
        const double* Y = sc.y.data();
        const double* Z = sc.z.data();
        const double* Rn = sc.r.data();
        const double* RI = sc.rinv.data();
        double* fx = sc.fx.data(); double* fy = sc.fy.data(); double* fz = sc.fz.data();
        using detail::vd4;
        using detail::load4;
        using detail::store4;
        vd4 const one = detail::splat4(1.0), zero = detail::splat4(0.0);
        for (std::size_t j = j0; j < j1; ++j) {
            if (!(Rn[j] < rc)) continue;
            std::size_t const k0 = (e1 == e2) ? j + 1 : kb;
            if (k0 >= ke) continue;
            double const xj = X[j], yj = Y[j], zj = Z[j], rinvj = RI[j];
            std::size_t n = 0, n4 = 0;
            const int* kk = nullptr;
            double* cb = nullptr;
            if (use_cache) {
                typename Scratch::Rec const& rec = sc.recs[ridx++];
                n = rec.n;
                if (n == 0) continue;
                n4 = (n + 3) & ~(std::size_t)3;
                cb = sc.cache.data() + rec.off;
                kk = sc.icache.data() + rec.ioff;
            } else {
                int* kq = sc.kk.data();
                double* rjk2 = sc.rjk2.data();
                for (std::size_t k = k0; k < ke; ++k) {
                    double const dx = X[k] - xj, dy = Y[k] - yj, dz = Z[k] - zj;
                    double const d2 = dx * dx + dy * dy + dz * dz;
                    bool const ok = (Rn[k] < rc) & (!narrow | (d2 < rc2));
                    kq[n] = (int)k;
                    rjk2[n] = d2;
                    n += ok ? 1 : 0;
                }
                n4 = (n + 3) & ~(std::size_t)3;
                if (!F) {  // record (also when empty) so that the F pass walks the same sequence
                    typename Scratch::Rec rec;
                    rec.n = n;
                    rec.off = sc.cache_used;
                    rec.ioff = sc.icache_used;
                    sc.recs.push_back(rec);
                    if (n == 0) continue;
                    sc.cache_used += narr * n4;
                    sc.icache_used += n4;
                    if (sc.cache.size() < sc.cache_used) sc.cache.resize(2 * sc.cache_used);
                    if (sc.icache.size() < sc.icache_used) sc.icache.resize(2 * sc.icache_used);
                    cb = sc.cache.data() + rec.off;
                    int* kc = sc.icache.data() + rec.ioff;
                    for (std::size_t i = n; i < n4; ++i) { kq[i] = kq[0]; rjk2[i] = rjk2[0]; }
                    for (std::size_t i = 0; i < n4; ++i) kc[i] = kq[i];
                    kk = kc;
                } else {
                    if (n == 0) continue;
                    for (std::size_t i = n; i < n4; ++i) { kq[i] = kq[0]; rjk2[i] = rjk2[0]; }
                    cb = sc.local.data();
                    kk = kq;
                }
            }
            double* xk = cb; double* yk = cb + n4; double* zk = cb + 2 * n4; double* rik = cb + 3 * n4;
            double* cosv = cb + 4 * n4; double* rjk = cb + 5 * n4; double* fcv = cb + 6 * n4; double* dfcv = cb + 7 * n4;
            double* hB = cb + 8 * n4;              // h_q = exp_q * fc   (nq arrays)
            double* eB = cb + (8 + nq) * n4;       // exp_q              (nq arrays)
            double* AB = cb + (8 + 2 * nq) * n4;   // angular factor     (na arrays)
            double* gkB = cb + (8 + 2 * nq + na) * n4;  // g_t(r_ik)     (nt arrays)
            if (!use_cache) {
                const double* rjk2 = sc.rjk2.data();
                for (std::size_t i = 0; i < n4; ++i) {
                    std::size_t const k = (std::size_t)kk[i];
                    xk[i] = X[k]; yk[i] = Y[k]; zk[i] = Z[k]; rik[i] = RI[k];
                }
                for (std::size_t i = 0; i < n4; ++i)
                    cosv[i] = (xj * xk[i] + yj * yk[i] + zj * zk[i]) * rinvj * rik[i];
                for (std::size_t t = 0; t < nt; ++t) {
                    const double* gt = sc.g.data() + (std::size_t)grp.rts[t] * nn;
                    double* gkt = gkB + t * n4;
                    for (std::size_t i = 0; i < n; ++i) gkt[i] = gt[kk[i]];
                    for (std::size_t i = n; i < n4; ++i) gkt[i] = 0.0;  // padding: zero weight
                }
                if (narrow) {
                    for (std::size_t i = 0; i < n4; i += 4) store4(rjk + i, detail::sqrt4(load4(rjk2 + i)));
                    if (tanh_ct) {
                        vd4 const rci = detail::splat4(rcinv), tp = detail::splat4(tpre);
                        for (std::size_t i = 0; i < n4; i += 4) {  // r_jk < rc for every entry
                            vd4 const u = one - load4(rjk + i) * rci;
                            vd4 const e = detail::fast_exp4(-2.0 * u);
                            vd4 const t = (one - e) / (one + e);
                            vd4 const t2 = t * t;
                            store4(fcv + i, tp * t * t2);
                            store4(dfcv + i, 3.0 * tp * t2 * (t2 - one) * rci);
                        }
                    } else {
                        for (std::size_t i = 0; i < n4; ++i) grp.fc.fdf(rjk[i], fcv[i], dfcv[i]);
                    }
                    for (std::size_t q = 0; q < nq; ++q) {
                        vd4 const eta = detail::splat4(grp.jk_eta[q]), rs = detail::splat4(grp.jk_rs[q]);
                        double* h = hB + q * n4;
                        double* ev = eB + q * n4;
                        for (std::size_t i = 0; i < n4; i += 4) {
                            vd4 const d = load4(rjk + i) - rs;
                            vd4 const e = detail::fast_exp4(-eta * d * d);
                            store4(ev + i, e);
                            store4(h + i, e * load4(fcv + i));
                        }
                    }
                }
                for (std::size_t a = 0; a < na; ++a) {
                    double* A = AB + a * n4;
                    double const lam = grp.ang_lambda[a], zeta = grp.ang_zeta[a], pnorm = grp.ang_pnorm[a];
                    int const nexp = grp.ang_zint[a] - 1;
                    if (grp.ang_intpow[a] && nexp >= 0) {
                        vd4 const vl = detail::splat4(lam), vp = detail::splat4(pnorm);
                        for (std::size_t i = 0; i < n4; i += 4) {
                            vd4 const pl = one + vl * load4(cosv + i);
                            store4(A + i, pl > zero ? vp * detail::ipow4(pl, nexp) * pl : zero);
                        }
                    } else {
                        for (std::size_t i = 0; i < n4; ++i) {
                            double const pl = 1.0 + lam * cosv[i];
                            A[i] = pl <= 0.0 ? 0.0 : pnorm * std::pow(pl, zeta - 1.0) * pl;
                        }
                    }
                }
            }
            if (F) derivative_arrays(grp, sc, kk, n, n4, L, rjk, eB, fcv, dfcv, cosv);
            if (!F) {
                for (Member const& m : grp.members) {
                    double const gij = sc.g[(std::size_t)m.rterm * nn + j];
                    if (gij == 0.0) continue;
                    const double* A = AB + (std::size_t)m.ang * n4;
                    const double* gkt = gkB + (std::size_t)m.rtl * n4;
                    double const sum = narrow ? detail::dot3_n4(A, gkt, hB + (std::size_t)m.jkterm * n4, n4)
                                              : detail::dot2_n4(A, gkt, n4);
                    G[m.s] += gij * sum;
                }
                continue;
            }
            double* P = sc.P.data(); double* Q = sc.Q.data(); double* S = sc.S.data(); double* T = sc.T.data();
            for (std::size_t i = 0; i < n4; i += 4) {
                store4(P + i, zero); store4(Q + i, zero); store4(S + i, zero); store4(T + i, zero);
            }
            bool anym = false;
            for (Member const& m : grp.members) {
                double const W = dEdG[m.s];
                if (W == 0.0) continue;
                double const gij = sc.g[(std::size_t)m.rterm * nn + j], dgij = sc.dg[(std::size_t)m.rterm * nn + j];
                if (gij == 0.0 && dgij == 0.0) continue;
                anym = true;
                vd4 const c1 = detail::splat4(W * gij), c2 = detail::splat4(W * dgij);
                const double* A = AB + (std::size_t)m.ang * n4;
                const double* Ap = sc.Ap.data() + (std::size_t)m.ang * L;
                const double* gkt = gkB + (std::size_t)m.rtl * n4;
                const double* dgkt = sc.dgk.data() + (std::size_t)m.rtl * L;
                if (narrow) {
                    const double* h = hB + (std::size_t)m.jkterm * n4;
                    const double* dh = sc.dh.data() + (std::size_t)m.jkterm * L;
                    for (std::size_t i = 0; i < n4; i += 4) {
                        vd4 const hv = load4(h + i), gv = load4(gkt + i), av = load4(A + i);
                        vd4 const gh = gv * hv, c1A = c1 * av;
                        store4(P + i, load4(P + i) + c1 * load4(Ap + i) * gh);
                        store4(Q + i, load4(Q + i) + c2 * av * gh);
                        store4(S + i, load4(S + i) + c1A * load4(dgkt + i) * hv);
                        store4(T + i, load4(T + i) + c1A * gv * load4(dh + i));
                    }
                } else {
                    for (std::size_t i = 0; i < n4; i += 4) {
                        vd4 const gv = load4(gkt + i), av = load4(A + i);
                        store4(P + i, load4(P + i) + c1 * load4(Ap + i) * gv);
                        store4(Q + i, load4(Q + i) + c2 * av * gv);
                        store4(S + i, load4(S + i) + c1 * av * load4(dgkt + i));
                    }
                }
            }
            if (!anym) continue;
            triplet_forces(sc, P, Q, S, T, narrow, kk, n, n4, j, cb, fx, fy, fz);
        }
    }

    static Scratch& scratch() {
        static thread_local Scratch s;
        return s;
    }

    int cutoff_slot(int type, double rc, double alpha) {
        for (std::size_t c = 0; c < cslots_.size(); ++c)
            if (cslots_[c].type == type && cslots_[c].rc == rc && cslots_[c].alpha == alpha) return (int)c;
        cslots_.emplace_back(type, rc, alpha);
        return (int)cslots_.size() - 1;
    }
    static void compact_core(int subtype, int& core, bool& asym) {
        core = subtype & 7;
        asym = (subtype & SUBTYPE_ASYM) != 0;
        if (core < CORE_POLY1 || core > CORE_EXP) throw std::invalid_argument("invalid compact subtype code");
        if (asym && core == CORE_EXP) throw std::invalid_argument("asymmetric flag needs a polynomial core");
    }
    int radial_term_exp(double eta, double rs, int cslot) {
        for (std::size_t t = 0; t < rterms_.size(); ++t) {
            RadialTerm const& r = rterms_[t];
            if (!r.compact && r.eta == eta && r.rs == rs && r.cslot == cslot) return (int)t;
        }
        RadialTerm r;
        r.compact = false; r.eta = eta; r.rs = rs; r.cslot = cslot;
        rterms_.push_back(r);
        return (int)rterms_.size() - 1;
    }
    int radial_term_compact(int subtype, double rl, double rc) {
        for (std::size_t t = 0; t < rterms_.size(); ++t) {
            RadialTerm const& r = rterms_[t];
            if (r.compact && r.subtype == subtype && r.rl == rl && r.rc == rc) return (int)t;
        }
        RadialTerm r;
        r.compact = true; r.subtype = subtype; r.rl = rl; r.rc = rc;
        int core; bool asym;
        compact_core(subtype, core, asym);
        r.cf.setup(core, asym, rl, rc);
        rterms_.push_back(r);
        return (int)rterms_.size() - 1;
    }

    void setup_one(int s) {
        SymFuncParams p = sfs_[s];
        int const t = p.type;
        bool const known = t == 2 || t == 3 || t == 9 || t == 12 || t == 13 || (t >= 20 && t <= 25);
        if (!known) throw std::invalid_argument("unsupported symmetry function type " + std::to_string(t));
        bool const weighted = detail::is_weighted(t);
        if (!weighted) {
            if (p.e1 < 0 || p.e1 >= n_elements_) throw std::invalid_argument("neighbour element index e1 out of range");
            if (!detail::is_radial(t) && (p.e2 < 0 || p.e2 >= n_elements_))
                throw std::invalid_argument("neighbour element index e2 out of range");
        }
        if (!(p.rc > 0.0)) throw std::invalid_argument("cutoff radius must be > 0");
        if (detail::is_compact(t) && !(p.rl < p.rc)) throw std::invalid_argument("compact SF: rl >= rc");
        if (detail::is_radial(t)) {
            int rt;
            if (detail::is_compact(t)) rt = radial_term_compact(p.subtype, p.rl, p.rc);
            else rt = radial_term_exp(p.eta, p.rs, cutoff_slot(p.cutoff_type, p.rc, p.cutoff_alpha));
            radial_.push_back(RadialSF{s, rt, weighted ? -1 : p.e1, weighted});
            return;
        }
        int e1 = weighted ? -1 : std::min(p.e1, p.e2);
        int e2 = weighted ? -1 : std::max(p.e1, p.e2);
        bool const compact = detail::is_compact(t);
        // Find or create the group.
        AngularGroup* grp = nullptr;
        for (auto& g : groups_) {
            if (g.type != t || g.e1 != e1 || g.e2 != e2 || g.rc != p.rc) continue;
            if (compact) {
                if (g.rl != p.rl || g.subtype != p.subtype) continue;
            } else {
                if (g.fc.type != p.cutoff_type || g.fc.alpha != p.cutoff_alpha) continue;
            }
            grp = &g;
            break;
        }
        if (!grp) {
            AngularGroup g;
            g.type = t; g.e1 = e1; g.e2 = e2;
            g.weighted = weighted; g.narrow = detail::is_narrow(t); g.compact = compact;
            g.rc = p.rc; g.rl = compact ? p.rl : 0.0;
            g.subtype = compact ? p.subtype : 0;
            g.cslot = -1;
            if (compact) {
                int core; bool asym;
                compact_core(p.subtype, core, asym);
                g.cr.setup(core, asym, p.rl, p.rc);
            } else {
                g.cslot = cutoff_slot(p.cutoff_type, p.rc, p.cutoff_alpha);
                g.fc.setup(p.cutoff_type, p.rc, p.cutoff_alpha);
            }
            groups_.push_back(g);
            grp = &groups_.back();
        }
        Member m{};
        m.s = s;
        if (compact) {
            m.rterm = radial_term_compact(p.subtype, p.rl, p.rc);
            if (!(p.angle_left < p.angle_right)) throw std::invalid_argument("compact SF: angle_left >= angle_right");
            m.al = p.angle_left * M_PI / 180.0;
            m.ar = p.angle_right * M_PI / 180.0;
            int core; bool asym;
            compact_core(p.subtype, core, asym);
            m.ca.setup(core, false, m.al, m.ar);  // n2p2: the angular part is never asymmetric
            m.jkterm = -1;
        } else {
            m.rterm = radial_term_exp(p.eta, p.rs, grp->cslot);
            m.lambda = p.lambda;
            m.zeta = p.zeta;
            m.pnorm = std::pow(2.0, 1.0 - p.zeta);
            m.zeta_int = (int)std::lround(p.zeta);
            m.int_pow = std::fabs(p.zeta - (double)m.zeta_int) <= 2.2250738585072014e-308;
            m.jkterm = -1;
            m.ang = -1;
            for (std::size_t q = 0; q < grp->ang_lambda.size(); ++q)
                if (grp->ang_lambda[q] == p.lambda && grp->ang_zeta[q] == p.zeta) { m.ang = (int)q; break; }
            if (m.ang < 0) {
                grp->ang_lambda.push_back(p.lambda);
                grp->ang_zeta.push_back(p.zeta);
                grp->ang_pnorm.push_back(m.pnorm);
                grp->ang_zint.push_back(m.zeta_int);
                grp->ang_intpow.push_back(m.int_pow ? 1 : 0);
                m.ang = (int)grp->ang_lambda.size() - 1;
            }
            if (grp->narrow) {
                for (std::size_t q = 0; q < grp->jk_eta.size(); ++q)
                    if (grp->jk_eta[q] == p.eta && grp->jk_rs[q] == p.rs) { m.jkterm = (int)q; break; }
                if (m.jkterm < 0) {
                    grp->jk_eta.push_back(p.eta);
                    grp->jk_rs.push_back(p.rs);
                    m.jkterm = (int)grp->jk_eta.size() - 1;
                }
            }
        }
        if (!compact) {
            m.rtl = -1;
            for (std::size_t q = 0; q < grp->rts.size(); ++q)
                if (grp->rts[q] == m.rterm) { m.rtl = (int)q; break; }
            if (m.rtl < 0) {
                grp->rts.push_back(m.rterm);
                m.rtl = (int)grp->rts.size() - 1;
            }
        }
        if (compact || weighted) fast_ = false;
        grp->members.push_back(m);
    }

    // Gaussian angular types 3 and 9 (element-resolved): neighbours are grouped by element in the
    // local order, so the pairs of the group are index ranges. Per j, everything that depends on
    // (j, k) but not on the member SF is computed in branch-free loops over k first.
    void compute_group_exp(AngularGroup const& grp, std::size_t nn, Scratch& sc, double* G, double* dGl) const {
        int const e1 = grp.e1, e2 = grp.e2;
        std::size_t const j0 = sc.estart[e1], j1 = sc.estart[e1 + 1];
        std::size_t const kb = sc.estart[e2], ke = sc.estart[e2 + 1];
        if (j0 == j1 || kb == ke) return;
        double const rc = grp.rc, rc2 = rc * rc;
        std::size_t const nq = grp.jk_eta.size(), na = grp.ang_lambda.size();
        std::size_t const L = ke - kb;
        sc.kk.resize(L);
        sc.cosv.resize(L); sc.rjkv.resize(L); sc.rjkinv.resize(L); sc.tmp.resize(2 * L);
        sc.h.resize(nq * L); sc.dh.resize(nq * L); sc.A.resize(na * L); sc.Ap.resize(na * L);
        bool const tanh_ct = grp.fc.type == CT_TANHU || grp.fc.type == CT_TANH;
        double const tpre = grp.fc.type == CT_TANH ? CutoffFunction::tanh_pre() : 1.0;
        const double* X = sc.x.data();
        const double* Y = sc.y.data();
        const double* Z = sc.z.data();
        for (std::size_t j = j0; j < j1; ++j) {
            if (!(sc.r[j] < rc)) continue;
            std::size_t const k0 = (e1 == e2) ? j + 1 : kb;
            if (k0 >= ke) continue;
            double const xj = X[j], yj = Y[j], zj = Z[j], rinvj = sc.rinv[j];
            // Compact list of the k that take part: r_ik < rc and (narrow) r_jk < rc.
            int* kk = sc.kk.data();
            std::size_t n = 0;
            for (std::size_t k = k0; k < ke; ++k) {
                if (!(sc.r[k] < rc)) continue;
                if (grp.narrow) {
                    double const dx = X[k] - xj, dy = Y[k] - yj, dz = Z[k] - zj;
                    double const d2 = dx * dx + dy * dy + dz * dz;
                    if (!(d2 < rc2)) continue;
                    sc.rjkv[n] = std::sqrt(d2);
                }
                kk[n++] = (int)k;
            }
            if (n == 0) continue;
            double* cosv = sc.cosv.data();
            for (std::size_t i = 0; i < n; ++i) {
                std::size_t const k = (std::size_t)kk[i];
                cosv[i] = (xj * X[k] + yj * Y[k] + zj * Z[k]) * rinvj * sc.rinv[k];
            }
            if (grp.narrow) {
                double* rjk = sc.rjkv.data();
                double* rjkinv = sc.rjkinv.data();
                double* fc = sc.tmp.data();
                double* dfc = sc.tmp.data() + n;
                for (std::size_t i = 0; i < n; ++i) rjkinv[i] = 1.0 / rjk[i];
                if (tanh_ct) {
                    for (std::size_t i = 0; i < n; ++i) {
                        double const u = 1.0 - rjk[i] * grp.fc.rcinv;
                        double const e = std::exp(-2.0 * u);
                        double const t = (1.0 - e) / (1.0 + e);
                        double const t2 = t * t;
                        bool const in = rjk[i] < rc;
                        fc[i] = in ? tpre * t * t2 : 0.0;
                        dfc[i] = in ? 3.0 * tpre * t2 * (t2 - 1.0) * grp.fc.rcinv : 0.0;
                    }
                } else {
                    for (std::size_t i = 0; i < n; ++i) grp.fc.fdf(rjk[i], fc[i], dfc[i]);
                }
                for (std::size_t q = 0; q < nq; ++q) {
                    double const eta = grp.jk_eta[q], rs = grp.jk_rs[q];
                    double* h = sc.h.data() + q * L;
                    double* dh = sc.dh.data() + q * L;
                    for (std::size_t i = 0; i < n; ++i) {
                        double const d = rjk[i] - rs;
                        double const e = std::exp(-eta * d * d);
                        h[i] = e * fc[i];
                        dh[i] = e * (dfc[i] - 2.0 * eta * d * fc[i]);
                    }
                }
                (void)rc2;
            }
            for (std::size_t a = 0; a < na; ++a) {
                double* A = sc.A.data() + a * L;
                double* Ap = sc.Ap.data() + a * L;
                double const lam = grp.ang_lambda[a], zeta = grp.ang_zeta[a], pnorm = grp.ang_pnorm[a];
                int const nexp = grp.ang_zint[a] - 1;
                if (grp.ang_intpow[a] && nexp >= 0) {
                    double* base = sc.tmp.data();  // free now (fc/dfc consumed above)
                    for (std::size_t i = 0; i < n; ++i) { A[i] = 1.0; base[i] = 1.0 + lam * cosv[i]; }
                    for (int b = nexp; b; b >>= 1) {
                        if (b & 1) for (std::size_t i = 0; i < n; ++i) A[i] *= base[i];
                        if (b >> 1) for (std::size_t i = 0; i < n; ++i) base[i] *= base[i];
                    }
                    for (std::size_t i = 0; i < n; ++i) {
                        double const pl = 1.0 + lam * cosv[i];
                        bool const pos = pl > 0.0;
                        double const pw = A[i];
                        A[i] = pos ? pnorm * pw * pl : 0.0;
                        Ap[i] = pos ? pnorm * zeta * lam * pw : 0.0;
                    }
                } else {
                    for (std::size_t i = 0; i < n; ++i) {
                        double const pl = 1.0 + lam * cosv[i];
                        if (pl <= 0.0) { A[i] = 0.0; Ap[i] = 0.0; continue; }
                        double const pw = std::pow(pl, zeta - 1.0);
                        A[i] = pnorm * pw * pl;
                        Ap[i] = pnorm * zeta * lam * pw;
                    }
                }
            }
            double const rij2inv = rinvj * rinvj;
            for (Member const& m : grp.members) {
                double const gij = sc.g[m.rterm * nn + j], dgij = sc.dg[m.rterm * nn + j];
                if (gij == 0.0 && dgij == 0.0) continue;
                const double* gk = sc.g.data() + m.rterm * nn;
                const double* dgk = sc.dg.data() + m.rterm * nn;
                const double* A = sc.A.data() + m.ang * L;
                const double* Ap = sc.Ap.data() + m.ang * L;
                double sumG = 0.0;
                if (grp.narrow) {
                    const double* h = sc.h.data() + m.jkterm * L;
                    const double* dh = sc.dh.data() + m.jkterm * L;
                    if (!dGl) {
                        for (std::size_t i = 0; i < n; ++i) sumG += A[i] * gk[kk[i]] * h[i];
                        G[m.s] += gij * sumG;
                        continue;
                    }
                    double sx = 0.0, sy = 0.0, sz = 0.0;
                    double* dk = dGl + (std::size_t)m.s * nn * 3;
                    const double* rjkinv = sc.rjkinv.data();
                    for (std::size_t i = 0; i < n; ++i) {
                        std::size_t const k = (std::size_t)kk[i];
                        double const gik = gk[k], dgik = dgk[k];
                        double const gh = gik * h[i];
                        double const R = gij * gh;
                        double const ApR = Ap[i] * R;
                        double const AR = A[i] * R;
                        sumG += AR;
                        double const t_jk = A[i] * gij * gik * dh[i] * rjkinv[i];
                        double const rinvk = sc.rinv[k];
                        double const caj = -ApR * cosv[i] * rij2inv + A[i] * dgij * gh * rinvj + t_jk;
                        double const cx = ApR * rinvj * rinvk - t_jk;
                        double const cbk = -ApR * cosv[i] * rinvk * rinvk + A[i] * gij * dgik * h[i] * rinvk + t_jk;
                        sx += caj * xj + cx * X[k];
                        sy += caj * yj + cx * Y[k];
                        sz += caj * zj + cx * Z[k];
                        dk[3 * k] += cx * xj + cbk * X[k];
                        dk[3 * k + 1] += cx * yj + cbk * Y[k];
                        dk[3 * k + 2] += cx * zj + cbk * Z[k];
                    }
                    G[m.s] += sumG;
                    double* dj = dGl + ((std::size_t)m.s * nn + j) * 3;
                    dj[0] += sx; dj[1] += sy; dj[2] += sz;
                } else {
                    if (!dGl) {
                        for (std::size_t i = 0; i < n; ++i) sumG += A[i] * gk[kk[i]];
                        G[m.s] += gij * sumG;
                        continue;
                    }
                    double sx = 0.0, sy = 0.0, sz = 0.0;
                    double* dk = dGl + (std::size_t)m.s * nn * 3;
                    for (std::size_t i = 0; i < n; ++i) {
                        std::size_t const k = (std::size_t)kk[i];
                        double const gik = gk[k], dgik = dgk[k];
                        double const R = gij * gik;
                        double const ApR = Ap[i] * R;
                        sumG += A[i] * R;
                        double const rinvk = sc.rinv[k];
                        double const caj = -ApR * cosv[i] * rij2inv + A[i] * dgij * gik * rinvj;
                        double const cx = ApR * rinvj * rinvk;
                        double const cbk = -ApR * cosv[i] * rinvk * rinvk + A[i] * gij * dgik * rinvk;
                        sx += caj * xj + cx * X[k];
                        sy += caj * yj + cx * Y[k];
                        sz += caj * zj + cx * Z[k];
                        dk[3 * k] += cx * xj + cbk * X[k];
                        dk[3 * k + 1] += cx * yj + cbk * Y[k];
                        dk[3 * k + 2] += cx * zj + cbk * Z[k];
                    }
                    G[m.s] += sumG;
                    double* dj = dGl + ((std::size_t)m.s * nn + j) * 3;
                    dj[0] += sx; dj[1] += sy; dj[2] += sz;
                }
            }
        }
    }

    void compute_group(AngularGroup const& grp, int nneigh, const int* neigh_elem, Scratch& sc, double* G,
                       double* dG) const {
        std::size_t const nn = (std::size_t)nneigh;
        // Neighbours that can take part.
        sc.list.clear();
        for (std::size_t k = 0; k < nn; ++k) {
            double const r = sc.r[k];
            if (!(r < grp.rc)) continue;
            if (grp.compact && !(r > grp.rl)) continue;
            if (!grp.weighted) {
                int const e = neigh_elem[k];
                if (e != grp.e1 && e != grp.e2) continue;
            }
            sc.list.push_back((int)k);
        }
        std::size_t const nl = sc.list.size();
        if (nl < 2) return;
        double const rc2 = grp.rc * grp.rc;
        double const r2l = (grp.compact && grp.rl > 0.0) ? grp.rl * grp.rl : 0.0;
        sc.ejk.resize(grp.jk_eta.size());
        for (std::size_t a = 0; a + 1 < nl; ++a) {
            int const j = sc.list[a];
            int const ej = neigh_elem[j];
            double const rij = sc.r[j];
            double const* vj = &sc.rv[3 * j];
            for (std::size_t b = a + 1; b < nl; ++b) {
                int const k = sc.list[b];
                int const ek = neigh_elem[k];
                if (!grp.weighted && !((ej == grp.e1 && ek == grp.e2) || (ej == grp.e2 && ek == grp.e1))) continue;
                double const rik = sc.r[k];
                double const* vk = &sc.rv[3 * k];
                double rjk = 0.0, rjkinv = 0.0;
                double hjk = 1.0, dhjk = 0.0;  // compact narrow: C_r(r_jk); exp narrow: fc(r_jk)
                if (grp.narrow) {
                    double const dx = vk[0] - vj[0], dy = vk[1] - vj[1], dz = vk[2] - vj[2];
                    double const rjk2 = dx * dx + dy * dy + dz * dz;
                    if (rjk2 >= rc2) continue;
                    if (grp.compact && rjk2 <= r2l) continue;
                    rjk = std::sqrt(rjk2);
                    rjkinv = 1.0 / rjk;
                    if (grp.compact) grp.cr.fdf(rjk, hjk, dhjk);
                    else grp.fc.fdf(rjk, hjk, dhjk);
                }
                double const inv_ab = sc.rinv[j] * sc.rinv[k];
                double cost = (vj[0] * vk[0] + vj[1] * vk[1] + vj[2] * vk[2]) * inv_ab;
                double const w = grp.weighted ? weights_[ej] * weights_[ek] : 1.0;
                double const rij2inv = sc.rinv[j] * sc.rinv[j];
                double const rik2inv = sc.rinv[k] * sc.rinv[k];
                double theta = 0.0, dtheta_dcos = 0.0;
                if (grp.compact) {
                    if (cost <= -1.0 || cost >= 1.0) {
                        // Exactly collinear (e.g. an atom between two of its own periodic images):
                        // theta is 0 or pi and cos(theta) is stationary (d cos/d r = 0), so the
                        // function value counts and its angular derivative term vanishes.
                        theta = cost <= -1.0 ? M_PI : 0.0;
                        dtheta_dcos = 0.0;
                    } else {
                        theta = std::acos(cost);
                        dtheta_dcos = -1.0 / std::sqrt(1.0 - cost * cost);
                    }
                } else if (grp.narrow) {
                    for (std::size_t q = 0; q < grp.jk_eta.size(); ++q) {
                        double const d = rjk - grp.jk_rs[q];
                        sc.ejk[q] = std::exp(-grp.jk_eta[q] * d * d);
                    }
                }
                for (Member const& m : grp.members) {
                    double const gij = sc.g[m.rterm * nn + j], gik = sc.g[m.rterm * nn + k];
                    double const dgij = sc.dg[m.rterm * nn + j], dgik = sc.dg[m.rterm * nn + k];
                    double A, Ap;  // angular factor and its derivative w.r.t. cos(theta)
                    double R, dRij, dRik, dRjk;
                    if (grp.compact) {
                        if (theta < m.al || theta > m.ar) continue;
                        double dA;
                        m.ca.fdf(theta, A, dA);
                        Ap = dA * dtheta_dcos;
                        if (grp.narrow) {
                            R = gij * gik * hjk;
                            dRij = dgij * gik * hjk;
                            dRik = gij * dgik * hjk;
                            dRjk = gij * gik * dhjk;
                        } else {
                            R = gij * gik;
                            dRij = dgij * gik;
                            dRik = gij * dgik;
                            dRjk = 0.0;
                        }
                    } else {
                        double const pl = 1.0 + m.lambda * cost;
                        if (pl <= 0.0) continue;
                        double const pw = m.int_pow ? detail::pow_int(pl, m.zeta_int - 1) : std::pow(pl, m.zeta - 1.0);
                        A = m.pnorm * pw * pl;
                        Ap = m.pnorm * m.zeta * m.lambda * pw;
                        if (grp.narrow) {
                            double const e = sc.ejk[m.jkterm];
                            double const d = rjk - grp.jk_rs[m.jkterm];
                            double const h = e * hjk;
                            double const dh = e * (dhjk - 2.0 * grp.jk_eta[m.jkterm] * d * hjk);
                            R = gij * gik * h;
                            dRij = dgij * gik * h;
                            dRik = gij * dgik * h;
                            dRjk = gij * gik * dh;
                        } else {
                            R = gij * gik;
                            dRij = dgij * gik;
                            dRik = gij * dgik;
                            dRjk = 0.0;
                        }
                    }
                    G[m.s] += w * A * R;
                    if (!dG) continue;
                    double const ApR = Ap * R;
                    double const t_jk = grp.narrow ? A * dRjk * rjkinv : 0.0;
                    double const caj = w * (-ApR * cost * rij2inv + A * dRij * sc.rinv[j] + t_jk);
                    double const cx = w * (ApR * inv_ab - t_jk);
                    double const cbk = w * (-ApR * cost * rik2inv + A * dRik * sc.rinv[k] + t_jk);
                    double* dj = dG + ((std::size_t)m.s * nn + j) * 3;
                    double* dk = dG + ((std::size_t)m.s * nn + k) * 3;
                    dj[0] += caj * vj[0] + cx * vk[0];
                    dj[1] += caj * vj[1] + cx * vk[1];
                    dj[2] += caj * vj[2] + cx * vk[2];
                    dk[0] += cx * vj[0] + cbk * vk[0];
                    dk[1] += cx * vj[1] + cbk * vk[1];
                    dk[2] += cx * vj[2] + cbk * vk[2];
                }
            }
        }
    }

    std::vector<SymFuncParams> sfs_;
    bool fast_ = true;  // every angular group is a Gaussian, element-resolved one (types 3, 9)
    int n_elements_;
    double cutoff_ = 0.0;
    std::vector<double> weights_;
    std::vector<CutoffFunction> cslots_;
    std::vector<RadialTerm> rterms_;
    std::vector<RadialSF> radial_;
    std::vector<AngularGroup> groups_;
};

}  // namespace hdnnp

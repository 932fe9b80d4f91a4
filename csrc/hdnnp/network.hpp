// Per-element feed-forward networks, symmetry-function scaling and the combined
// per-atom model, with n2p2 semantics (double precision throughout).
//
// Header-only so that the Python extension and the LAMMPS pair style compile the same
// kernels. Floating-point operations are done in n2p2's order (NeuralNetwork::propagateLayer,
// SymFnc::scale) with the multiply-adds fused exactly where GCC fuses them in an FMA build of
// n2p2 (explicit std::fma), so per-atom energies are bit-identical to the reference n2p2.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace hdnnp {

// n2p2 activation functions; the comment gives the input.nn letter.
enum class Activation {
    Identity /*l*/, Tanh /*t*/, Logistic /*s*/, Softplus /*p*/, ReLU /*r*/,
    Gaussian /*g*/, Cos /*c*/, RevLogistic /*S*/, Exp /*e*/, Harmonic /*h*/
};

inline Activation activation_from_char(char c) {
    switch (c) {
        case 'l': return Activation::Identity;
        case 't': return Activation::Tanh;
        case 's': return Activation::Logistic;
        case 'p': return Activation::Softplus;
        case 'r': return Activation::ReLU;
        case 'g': return Activation::Gaussian;
        case 'c': return Activation::Cos;
        case 'S': return Activation::RevLogistic;
        case 'e': return Activation::Exp;
        case 'h': return Activation::Harmonic;
    }
    throw std::invalid_argument(std::string("unknown n2p2 activation '") + c + "'");
}

inline char activation_to_char(Activation a) {
    switch (a) {
        case Activation::Identity: return 'l';
        case Activation::Tanh: return 't';
        case Activation::Logistic: return 's';
        case Activation::Softplus: return 'p';
        case Activation::ReLU: return 'r';
        case Activation::Gaussian: return 'g';
        case Activation::Cos: return 'c';
        case Activation::RevLogistic: return 'S';
        case Activation::Exp: return 'e';
        case Activation::Harmonic: return 'h';
    }
    return '?';
}

namespace detail {
// n2p2's EXP_LIMIT for logistic and softplus.
constexpr double kExpLimit = 35.0;

// f(x) and f'(x) exactly as n2p2's NeuralNetwork::propagateLayer computes them.
inline void activate(Activation a, double x, double& f, double& df) {  // NOLINT
    switch (a) {
        case Activation::Identity: f = x; df = 1.0; return;
        case Activation::Tanh: { double t = std::tanh(x); f = t; df = std::fma(-t, t, 1.0); return; }
        case Activation::Logistic:
            if (x > kExpLimit) { f = 1.0; df = 0.0; }
            else if (x < -kExpLimit) { f = 0.0; df = 0.0; }
            else { double s = 1.0 / (1.0 + std::exp(-x)); f = s; df = s * (1.0 - s); }
            return;
        case Activation::Softplus:
            if (x > kExpLimit) { f = x; df = 1.0; }
            else if (x < -kExpLimit) { f = 0.0; df = 0.0; }
            else { double e = std::exp(x); f = std::log(1.0 + e); df = 1.0 / (1.0 + 1.0 / e); }
            return;
        case Activation::ReLU:
            if (x > 0.0) { f = x; df = 1.0; } else { f = 0.0; df = 0.0; }
            return;
        case Activation::Gaussian: { double g = std::exp(-0.5 * x * x); f = g; df = -x * g; return; }
        case Activation::Cos: f = std::cos(x); df = -std::sin(x); return;
        case Activation::RevLogistic: {
            double s = 1.0 / (1.0 + std::exp(-x)); f = 1.0 - s; df = s * (s - 1.0); return; }
        case Activation::Exp: { double e = std::exp(-x); f = e; df = -e; return; }
        case Activation::Harmonic: f = x * x; df = 2.0 * x; return;
    }
    f = 0.0; df = 0.0;
}
}  // namespace detail

// One element's feed-forward network with n2p2 semantics.
//
// layer_sizes: {n_inputs, hidden..., 1}; activations: one per non-input layer;
// flat_weights: n2p2 weights.ZZZ.data order, i.e. for each layer l = 1..L: the weights
// w[l](j -> k) with the previous-layer neuron j as the outer and the layer-l neuron k as
// the inner loop, followed by the biases of layer l.
//
// Floating point: every neuron sums its inputs in n2p2's order (j = 0..n_in-1, starting from
// 0, bias added last) and rounds exactly like the reference n2p2 build (see dot_n2p2), which
// reproduces its atomic energies bit for bit. std::fma is exact everywhere, so results do not
// depend on the CPU or compiler flags; where the CPU has FMA (x86-64: AVX2+FMA, checked at run
// time) the kernels run vectorised across neurons (keeping each neuron's summation order).
class Network;

namespace detail {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HDNNP_NET_DISPATCH 1
#define HDNNP_NET_TARGET __attribute__((target("avx2,fma")))
#define HDNNP_ALWAYS_INLINE __attribute__((always_inline)) inline
inline bool cpu_has_fma() {
    static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return ok;
}
#else
#define HDNNP_NET_DISPATCH 0
#define HDNNP_ALWAYS_INLINE inline
#endif
}  // namespace detail

class Network {
public:
    Network() = default;
    Network(std::vector<int> layer_sizes, std::vector<Activation> activations,
            std::vector<double> flat_weights, bool normalize_nodes = false)
        : sizes_(std::move(layer_sizes)), acts_(std::move(activations)),
          flat_(std::move(flat_weights)), normalize_(normalize_nodes) {
        if (sizes_.size() < 2) throw std::invalid_argument("Network: need at least 2 layers");
        for (int s : sizes_)
            if (s <= 0) throw std::invalid_argument("Network: layer sizes must be positive");
        if (sizes_.back() != 1) throw std::invalid_argument("Network: output layer must have 1 neuron");
        if (acts_.size() != sizes_.size() - 1)
            throw std::invalid_argument("Network: need one activation per non-input layer");
        std::size_t n = expected_n_weights(sizes_);
        if (flat_.size() != n)
            throw std::invalid_argument("Network: got " + std::to_string(flat_.size()) +
                                        " weights, architecture needs " + std::to_string(n));
        // Wf[l]: [n_in][n_out] (file order: j outer, k inner) for the forward pass and the
        // n2p2-order gradient; Wb[l]: [n_out][n_in] for back-propagation; b[l].
        const int L = n_layers();
        wf_off_.resize(L); wb_off_.resize(L); b_off_.resize(L); a_off_.resize(L + 1);
        std::size_t total = 0;
        for (int l = 1; l <= L; ++l) total += 2 * std::size_t(sizes_[l - 1]) * sizes_[l] + sizes_[l];
        packed_.resize(total);
        std::size_t c = 0, p = 0;
        a_off_[0] = 0;
        max_width_ = sizes_[0];
        for (int l = 1; l <= L; ++l) {
            const int nin = sizes_[l - 1], nout = sizes_[l];
            const std::size_t nw = std::size_t(nin) * nout;
            wf_off_[l - 1] = p;
            wb_off_[l - 1] = p + nw;
            for (int j = 0; j < nin; ++j)
                for (int k = 0; k < nout; ++k) {
                    const double w = flat_[c++];
                    packed_[p + std::size_t(j) * nout + k] = w;
                    packed_[p + nw + std::size_t(k) * nin + j] = w;
                }
            p += 2 * nw;
            b_off_[l - 1] = p;
            for (int k = 0; k < nout; ++k) packed_[p++] = flat_[c++];
            a_off_[l] = a_off_[l - 1] + sizes_[l - 1];
            max_width_ = std::max(max_width_, nout);
        }
        n_act_ = a_off_[L] + sizes_[L];
    }

    static std::size_t expected_n_weights(const std::vector<int>& sizes) {
        std::size_t n = 0;
        for (std::size_t l = 1; l < sizes.size(); ++l)
            n += std::size_t(sizes[l - 1]) * sizes[l] + sizes[l];
        return n;
    }

    int n_inputs() const { return sizes_.empty() ? 0 : sizes_[0]; }
    int n_layers() const { return int(sizes_.size()) - 1; }  // non-input layers
    const std::vector<int>& layer_sizes() const { return sizes_; }
    const std::vector<Activation>& activations() const { return acts_; }
    const std::vector<double>& flat_weights() const { return flat_; }
    bool normalize_nodes() const { return normalize_; }
    std::size_t n_weights() const { return flat_.size(); }

    // Doubles of scratch space evaluate_ws needs.
    std::size_t workspace_size() const { return 2 * n_act_ + 4 * std::size_t(max_width_); }

    // Output; if dEdx != nullptr also d(output)/d(input) (n_inputs values), by
    // back-propagation. Uses a thread-local scratch buffer (allocated once per thread).
    double evaluate(const double* x, double* dEdx) const {
        return evaluate_ws(x, dEdx, scratch(workspace_size()));
    }

    // Same with caller-provided scratch of workspace_size() doubles (no allocation at all).
    double evaluate_ws(const double* x, double* dEdx, double* ws) const {
#if HDNNP_NET_DISPATCH
        if (detail::cpu_has_fma()) return eval_hw(x, dEdx, ws);
#endif
        return eval_impl(x, dEdx, ws);
    }

    // d(output)/d(input) with n2p2's own operation order (NeuralNetwork::calculateDEdG,
    // forward mode, one pass per input, FMA-contracted like the GCC build): bit-identical to
    // n2p2's dE/dG, but O(n_in * sum(n_l n_{l+1})) instead of O(sum(n_l n_{l+1})).
    double evaluate_n2p2_order(const double* x, double* dEdx) const {
        double* ws = scratch(workspace_size());
#if HDNNP_NET_DISPATCH
        if (detail::cpu_has_fma()) return eval_n2p2_hw(x, dEdx, ws);
#endif
        return eval_n2p2_impl(x, dEdx, ws);
    }

private:
#if HDNNP_NET_DISPATCH
    HDNNP_NET_TARGET double eval_hw(const double* x, double* dEdx, double* ws) const {
        return eval_impl(x, dEdx, ws);
    }
    HDNNP_NET_TARGET double eval_n2p2_hw(const double* x, double* dEdx, double* ws) const {
        return eval_n2p2_impl(x, dEdx, ws);
    }
#endif

    // s[k] = sum_j W[j][k] * v[j] (W in file order [n_in][n_out]) in the exact arithmetic of
    // the reference n2p2 (GCC 12 -O3 -march=native, AVX2): GCC vectorises n2p2's dot product
    // as products rounded 4 at a time and added strictly in order, then fuses the remaining
    // n_in % 4 terms into FMAs. So: j < 4*(n_in/4): s = s + round(w*v); then s = fma(w, v, s).
    // The products go through `tmp` (memory) so that no compiler can contract them.
    static HDNNP_ALWAYS_INLINE void dot_n2p2(const double* W, const double* v, int nin, int nout,
                                             double* s, double* tmp) {
        const int m = nin - nin % 4;
        for (int k = 0; k < nout; ++k) s[k] = 0.0;
        for (int j = 0; j < m; ++j) {
            const double vj = v[j];
            const double* Wj = W + std::size_t(j) * nout;
            for (int k = 0; k < nout; ++k) tmp[k] = Wj[k] * vj;
            for (int k = 0; k < nout; ++k) s[k] += tmp[k];
        }
        for (int j = m; j < nin; ++j) {
            const double vj = v[j];
            const double* Wj = W + std::size_t(j) * nout;
            for (int k = 0; k < nout; ++k) s[k] = std::fma(Wj[k], vj, s[k]);
        }
    }

    HDNNP_ALWAYS_INLINE void forward(const double* x, double* val, double* dfdx) const {
        const int L = n_layers();
        double* tmp = dfdx + n_act_;  // max_width_ doubles of scratch after dfdx
        for (int j = 0; j < sizes_[0]; ++j) val[j] = x[j];
        for (int l = 1; l <= L; ++l) {
            const int nin = sizes_[l - 1], nout = sizes_[l];
            const double* W = packed_.data() + wf_off_[l - 1];
            const double* b = packed_.data() + b_off_[l - 1];
            const double* vin = val + a_off_[l - 1];
            double* s = val + a_off_[l];
            double* dout = dfdx + a_off_[l];
            dot_n2p2(W, vin, nin, nout, s, tmp);
            const Activation a = acts_[l - 1];
            for (int k = 0; k < nout; ++k) {
                double t = s[k] + b[k];
                if (normalize_) t /= nin;
                detail::activate(a, t, s[k], dout[k]);
            }
        }
    }

    HDNNP_ALWAYS_INLINE double eval_impl(const double* x, double* dEdx, double* ws) const {
        double* val = ws;             // activations of all layers (layer 0 = input)
        double* dfdx = ws + n_act_;   // f'(pre-activation) for layers >= 1
        forward(x, val, dfdx);
        const int L = n_layers();
        const double out = val[a_off_[L]];
        if (dEdx) {
            double* g = ws + 2 * n_act_ + max_width_;  // d out / d (pre-activation), layer l
            double* h = g + max_width_;                // d out / d (value) of layer l-1
            g[0] = dfdx[a_off_[L]];
            for (int l = L; l >= 1; --l) {
                const int nin = sizes_[l - 1], nout = sizes_[l];
                const double* W = packed_.data() + wb_off_[l - 1];
                double* dst = (l == 1) ? dEdx : h;
                for (int j = 0; j < nin; ++j) dst[j] = 0.0;
                for (int k = 0; k < nout; ++k) {
                    const double gk = normalize_ ? g[k] / nin : g[k];
                    const double* Wk = W + std::size_t(k) * nin;
                    for (int j = 0; j < nin; ++j) dst[j] = std::fma(gk, Wk[j], dst[j]);
                }
                if (l > 1) {
                    const double* d = dfdx + a_off_[l - 1];
                    for (int j = 0; j < nin; ++j) g[j] = h[j] * d[j];
                }
            }
        }
        return out;
    }

    HDNNP_ALWAYS_INLINE double eval_n2p2_impl(const double* x, double* dEdx, double* ws) const {
        double* val = ws;
        double* dfdx = ws + n_act_;
        forward(x, val, dfdx);
        const int L = n_layers();
        const double out = val[a_off_[L]];
        if (!dEdx) return out;
        double* inner = ws + 2 * n_act_ + max_width_;
        double* outer = inner + max_width_;
        double* tmp = outer + max_width_;
        const int n0 = sizes_[0];
        for (int k = 0; k < n0; ++k) {
            // inner_i = w1[i][k] * f1'(i)   (k-th row of the file-order layer-1 matrix)
            const int n1 = sizes_[1];
            const double* W1 = packed_.data() + wf_off_[0] + std::size_t(k) * n1;
            const double* d1 = dfdx + a_off_[1];
            for (int i = 0; i < n1; ++i) {
                inner[i] = W1[i] * d1[i];
                if (normalize_) inner[i] /= n0;
            }
            for (int l = 1; l < L; ++l) {
                const int nl = sizes_[l], nn = sizes_[l + 1];
                const double* W = packed_.data() + wf_off_[l];
                const double* d = dfdx + a_off_[l + 1];
                dot_n2p2(W, inner, nl, nn, outer, tmp);
                for (int i2 = 0; i2 < nn; ++i2) {
                    double s = outer[i2] * d[i2];
                    if (normalize_) s /= nl;
                    inner[i2] = s;
                }
            }
            dEdx[k] = inner[0];
        }
        return out;
    }

    static double* scratch(std::size_t n) {
        thread_local std::vector<double> buf;
        if (buf.size() < n) buf.resize(n);
        return buf.data();
    }

    std::vector<int> sizes_;
    std::vector<Activation> acts_;
    std::vector<double> flat_;    // as given (n2p2 file order)
    std::vector<double> packed_;  // per layer: Wf [n_in][n_out], Wb [n_out][n_in], b
    std::vector<std::size_t> wf_off_, wb_off_, b_off_, a_off_;
    std::size_t n_act_ = 0;
    int max_width_ = 0;
    bool normalize_ = false;
};

// n2p2 symmetry-function scaling of one element (sorted SF order). Mode values are
// n2p2's SymFnc::ScalingType:
//   0 none          Gs = G                                     (no scaling keyword)
//   1 scale         Gs = Smin + (Smax-Smin)/(Gmax-Gmin) * (G - Gmin)   scale_symmetry_functions
//   2 center        Gs = G - Gmean                               center_symmetry_functions
//   3 scale+center  Gs = Smin + (Smax-Smin)/(Gmax-Gmin) * (G - Gmean)  both of the above
//   4 scale+sigma   Gs = Smin + (Smax-Smin)/Gsigma * (G - Gmean)       scale_symmetry_functions_sigma
// factor[i] = d Gs_i / d G_i is computed exactly as n2p2's scalingFactor.
struct Scaling {
    enum : int { None = 0, Scale = 1, Center = 2, ScaleCenter = 3, ScaleSigma = 4 };
    int mode = None;
    double smin = 0.0, smax = 0.0;
    std::vector<double> gmin, gmax, gmean, gsigma;
    std::vector<double> factor;

    Scaling() = default;
    Scaling(int mode_, double smin_, double smax_, std::vector<double> gmin_,
            std::vector<double> gmax_, std::vector<double> gmean_, std::vector<double> gsigma_)
        : mode(mode_), smin(smin_), smax(smax_), gmin(std::move(gmin_)), gmax(std::move(gmax_)),
          gmean(std::move(gmean_)), gsigma(std::move(gsigma_)) {
        init();
    }

    // Validate array sizes and compute the factors; call after changing the fields.
    void init() {
        if (mode < None || mode > ScaleSigma) throw std::invalid_argument("Scaling: bad mode");
        const std::size_t n = gmin.size();
        if (gmax.size() != n || gmean.size() != n || gsigma.size() != n)
            throw std::invalid_argument("Scaling: gmin/gmax/gmean/gsigma sizes differ");
        factor.assign(n, 1.0);
        for (std::size_t i = 0; i < n; ++i) {
            if (mode == Scale || mode == ScaleCenter) factor[i] = (smax - smin) / (gmax[i] - gmin[i]);
            else if (mode == ScaleSigma) factor[i] = (smax - smin) / gsigma[i];
        }
    }

    int size() const { return int(gmin.size()); }

    void apply(const double* G, double* out) const {
#if HDNNP_NET_DISPATCH
        if (detail::cpu_has_fma()) { apply_hw(G, out); return; }
#endif
        apply_impl(G, out);
    }

    // d(out_i)/d(G_i).
    const double* factors() const { return factor.data(); }

    double unscale_one(int i, double s) const {
        switch (mode) {
            case None: return s;
            case Scale: return (s - smin) / factor[i] + gmin[i];
            case Center: return s + gmean[i];
            default: return (s - smin) / factor[i] + gmean[i];
        }
    }

    // Number of G_i outside [Gmin, Gmax] as n2p2's Element::updateSymmetryFunctionStatistics
    // counts them: the scaled-then-unscaled value v with v + eps < Gmin or v - eps > Gmax,
    // eps = 1000 * DBL_EPSILON (absolute).
    int count_extrapolations(const double* G) const {
        const double eps = 1000.0 * std::numeric_limits<double>::epsilon();
        int c = 0;
        for (int i = 0; i < size(); ++i) {
            double s;
            apply_one(i, G[i], s);
            const double v = unscale_one(i, s);
            if (v + eps < gmin[i] || v - eps > gmax[i]) ++c;
        }
        return c;
    }

    void apply_one(int i, double g, double& out) const {
        switch (mode) {
            case None: out = g; break;
            case Scale: out = std::fma(factor[i], g - gmin[i], smin); break;
            case Center: out = g - gmean[i]; break;
            default: out = std::fma(factor[i], g - gmean[i], smin); break;
        }
    }
private:
#if HDNNP_NET_DISPATCH
    HDNNP_NET_TARGET void apply_hw(const double* G, double* out) const { apply_impl(G, out); }
#endif
    HDNNP_ALWAYS_INLINE void apply_impl(const double* G, double* out) const {
        const int n = size();
        const double* f = factor.data();
        switch (mode) {
            case None: for (int i = 0; i < n; ++i) out[i] = G[i]; break;
            case Scale: {
                const double* m = gmin.data();
                for (int i = 0; i < n; ++i) out[i] = std::fma(f[i], G[i] - m[i], smin);
                break;
            }
            case Center: for (int i = 0; i < n; ++i) out[i] = G[i] - gmean[i]; break;
            default: {
                const double* m = gmean.data();
                for (int i = 0; i < n; ++i) out[i] = std::fma(f[i], G[i] - m[i], smin);
                break;
            }
        }
    }
};

// Scaling + network of one element: E_i in internal (normalised) units from raw G.
struct ElementModel {
    Scaling scaling;
    Network network;

    ElementModel() = default;
    ElementModel(Scaling s, Network n) : scaling(std::move(s)), network(std::move(n)) {
        if (scaling.size() != network.n_inputs())
            throw std::invalid_argument("ElementModel: scaling has " + std::to_string(scaling.size()) +
                                        " SFs, network has " + std::to_string(network.n_inputs()) +
                                        " inputs");
    }

    int n_inputs() const { return network.n_inputs(); }

    // E_i (internal units); if dEdG != nullptr, dE_i/dG (w.r.t. the RAW G, i.e. the
    // network gradient times the scaling factors).
    double energy(const double* G, double* dEdG) const {
        const int n = network.n_inputs();
        double* gs = buffer(n);
        scaling.apply(G, gs);
        const double e = network.evaluate(gs, dEdG);
        if (dEdG) {
            const double* f = scaling.factors();
            for (int i = 0; i < n; ++i) dEdG[i] *= f[i];
        }
        return e;
    }

    // E_i and dE_i/dGs w.r.t. the SCALED G (what n2p2 keeps in Atom::dEdG; n2p2 puts the
    // scaling factor into the SF derivatives instead). With n2p2_order the gradient uses
    // n2p2's operation order (bit-identical, slower).
    double energy_scaled_grad(const double* G, double* dEdGs, bool n2p2_order = false) const {
        const int n = network.n_inputs();
        double* gs = buffer(n);
        scaling.apply(G, gs);
        return n2p2_order ? network.evaluate_n2p2_order(gs, dEdGs) : network.evaluate(gs, dEdGs);
    }

private:
    static double* buffer(std::size_t n) {
        thread_local std::vector<double> buf;
        if (buf.size() < n) buf.resize(n);
        return buf.data();
    }
};

}  // namespace hdnnp

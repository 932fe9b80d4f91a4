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
    // Returns the total energy (sum of eatom).
    double evaluate(int natoms, const int64_t *offsets, const int64_t *neigh, const double *rij,
                    const int *elem, double *eatom, double *forces, double *virial, int *extrap) {
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
            double fi[3] = {0.0, 0.0, 0.0};
            for (int k = 0; k < nn; ++k) {
                const int64_t a = neigh[p0 + k];
                const double *gk = g + 3 * k;
                const double *r = rij + 3 * (p0 + k);
                for (int c = 0; c < 3; ++c) {
                    forces[3 * a + c] -= gk[c];
                    fi[c] += gk[c];
                }
                if (virial)
                    for (int x = 0; x < 3; ++x)
                        for (int y = 0; y < 3; ++y) virial[3 * x + y] -= r[x] * gk[y];
            }
            for (int c = 0; c < 3; ++c) forces[3 * i + c] += fi[c];
        }
        return etot;
    }

private:
    std::vector<ElementDescriptor> desc_;
    std::vector<ElementModel> model_;
    double cutoff_;
    Scratch scratch_;
};

}  // namespace hdnnp

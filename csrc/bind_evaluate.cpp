// Python binding of the fused evaluator (csrc/hdnnp/evaluate.hpp).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/vector.h>
#include <nanobind/stl/tuple.h>

#include <stdexcept>
#include <vector>

#include "hdnnp/evaluate.hpp"

namespace nb = nanobind;
using namespace hdnnp;

template <typename T>
using Arr1 = nb::ndarray<const T, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using Arr2d = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;

template <typename T>
static nb::ndarray<nb::numpy, T> owned(std::vector<size_t> shape) {
    size_t n = 1;
    for (auto s : shape) n *= s;
    T *data = new T[n > 0 ? n : 1]();
    nb::capsule owner(data, [](void *p) noexcept { delete[] (T *)p; });
    return nb::ndarray<nb::numpy, T>(data, shape.size(), shape.data(), owner);
}

// the CSR neighbour list and element indices handed to an evaluator are consistent (else std::invalid_argument)
static void check_pairs(const Arr1<int64_t> &offsets, const Arr1<int64_t> &neigh, const Arr2d &rij,
                        const Arr1<int32_t> &elem, int n_elements) {
    const int64_t natoms = (int64_t)offsets.shape(0) - 1;
    const int64_t ntot = (int64_t)elem.shape(0);
    if (natoms < 0 || natoms > ntot) throw std::invalid_argument("offsets/elem size mismatch");
    const int64_t npairs = (int64_t)neigh.shape(0);
    if ((int64_t)rij.shape(0) != npairs || rij.shape(1) != 3)
        throw std::invalid_argument("rij must have shape (npairs, 3)");
    if (natoms > 0 && offsets.data()[natoms] != npairs)
        throw std::invalid_argument("offsets[-1] must equal the number of pairs");
    for (int64_t p = 0; p < npairs; ++p)
        if (neigh.data()[p] < 0 || neigh.data()[p] >= ntot) throw std::invalid_argument("neighbour index out of range");
    for (int64_t a = 0; a < ntot; ++a)
        if (elem.data()[a] < 0 || elem.data()[a] >= n_elements) throw std::invalid_argument("element index out of range");
}

void bind_evaluate(nb::module_ &m) {
    m.def(
        "csr_pairs",
        [](nb::ndarray<const uint64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu> i,
           nb::ndarray<const uint64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu> j, Arr2d vec, int64_t natoms,
           double scale) {
            const size_t np = i.shape(0);
            if (j.shape(0) != np || vec.shape(0) != np || vec.shape(1) != 3)
                throw std::invalid_argument("i, j, vectors: sizes differ");
            auto offsets = owned<int64_t>({(size_t)natoms + 1});
            auto jo = owned<int64_t>({np});
            auto ro = owned<double>({np, 3});
            {
                nb::gil_scoped_release release;
                int64_t *off = offsets.data();
                const uint64_t *I = i.data(), *J = j.data();
                for (size_t p = 0; p < np; ++p) {
                    if (I[p] >= (uint64_t)natoms || J[p] >= (uint64_t)natoms)
                        throw std::invalid_argument("pair index out of range");
                    ++off[I[p] + 1];
                }
                for (int64_t a = 0; a < natoms; ++a) off[a + 1] += off[a];
                std::vector<int64_t> cur(off, off + natoms);
                const double *V = vec.data();
                int64_t *jd = jo.data();
                double *rd = ro.data();
                for (size_t p = 0; p < np; ++p) {  // stable counting sort by i
                    const int64_t q = cur[I[p]]++;
                    jd[q] = (int64_t)J[p];
                    rd[3 * q] = V[3 * p] * scale;
                    rd[3 * q + 1] = V[3 * p + 1] * scale;
                    rd[3 * q + 2] = V[3 * p + 2] * scale;
                }
            }
            return nb::make_tuple(offsets, jo, ro);
        },
        nb::arg("i"), nb::arg("j"), nb::arg("vectors"), nb::arg("natoms"), nb::arg("scale") = 1.0,
        "Pairs (i, j, vectors) in any order -> CSR (offsets[natoms+1], j, vectors*scale) grouped by i, "
        "stable (one counting-sort pass).");

    nb::class_<Evaluator>(m, "Evaluator",
                          "Fused per-atom evaluation: symmetry functions -> scaling -> network -> "
                          "energies, forces, virial (potential's internal units).")
        .def(nb::init<std::vector<ElementDescriptor>, std::vector<ElementModel>>(),
             nb::arg("descriptors"), nb::arg("models"))
        .def_prop_ro("cutoff", &Evaluator::cutoff)
        .def_prop_ro("n_elements", &Evaluator::n_elements)
        .def(
            "evaluate",
            [](Evaluator &ev, Arr1<int64_t> offsets, Arr1<int64_t> neigh, Arr2d rij, Arr1<int32_t> elem,
               bool compute_forces, bool atom_virial) {
                const int64_t natoms = (int64_t)offsets.shape(0) - 1;
                const int64_t ntot = (int64_t)elem.shape(0);
                check_pairs(offsets, neigh, rij, elem, ev.n_elements());
                auto eatom = owned<double>({(size_t)natoms});
                auto forces = owned<double>({(size_t)ntot, 3});
                auto virial = owned<double>({3, 3});
                auto extrap = owned<int32_t>({(size_t)natoms});
                const bool va = compute_forces && atom_virial;
                auto vatom = owned<double>({va ? (size_t)ntot : 0, 3, 3});
                double e;
                {
                    nb::gil_scoped_release release;
                    e = ev.evaluate((int)natoms, offsets.data(), neigh.data(), rij.data(), elem.data(),
                                    eatom.data(), compute_forces ? forces.data() : nullptr,
                                    compute_forces ? virial.data() : nullptr, extrap.data(),
                                    va ? vatom.data() : nullptr);
                }
                return nb::make_tuple(e, eatom, forces, virial, extrap, vatom);
            },
            nb::arg("offsets"), nb::arg("neighbours"), nb::arg("rij"), nb::arg("elements"),
            nb::arg("forces") = true, nb::arg("atom_virial") = false,
            "Returns (energy, atomic_energies[natoms], forces[ntot,3], virial[3,3], "
            "extrapolations[natoms], atom_virials[ntot,3,3] (centroid form; empty unless atom_virial)); internal "
            "units, no offsets.");

    nb::class_<CommitteeEvaluator>(m, "CommitteeEvaluator",
                                   "Committee of M networks on shared descriptors: symmetry functions once per "
                                   "atom, every member's energies, forces and virials (potential's units before "
                                   "offsets).")
        .def(nb::init<std::vector<ElementDescriptor>, std::vector<std::vector<ElementModel>>, std::vector<double>>(),
             nb::arg("descriptors"), nb::arg("models"), nb::arg("scale"))
        .def_prop_ro("cutoff", &CommitteeEvaluator::cutoff)
        .def_prop_ro("n_members", &CommitteeEvaluator::n_members)
        .def(
            "evaluate",
            [](CommitteeEvaluator &ev, Arr1<int64_t> offsets, Arr1<int64_t> neigh, Arr2d rij, Arr1<int32_t> elem,
               bool compute_forces, bool member_forces, bool atom_virial) {
                const int64_t natoms = (int64_t)offsets.shape(0) - 1;
                const int64_t ntot = (int64_t)elem.shape(0);
                check_pairs(offsets, neigh, rij, elem, ev.n_elements());
                const size_t M = (size_t)ev.n_members();
                const bool mf = compute_forces && member_forces;
                auto eatom = owned<double>({M, (size_t)natoms});
                auto forces = owned<double>({(size_t)ntot, 3});
                auto virial = owned<double>({3, 3});
                auto mforces = owned<double>({mf ? M : 0, (size_t)ntot, 3});
                auto mvirial = owned<double>({mf ? M : 0, 3, 3});
                auto extrap = owned<int32_t>({(size_t)natoms});
                const bool va = compute_forces && atom_virial;
                auto vatom = owned<double>({va ? (size_t)ntot : 0, 3, 3});
                {
                    nb::gil_scoped_release release;
                    ev.evaluate((int)natoms, offsets.data(), neigh.data(), rij.data(), elem.data(), ntot,
                                eatom.data(), compute_forces ? forces.data() : nullptr,
                                compute_forces ? virial.data() : nullptr, mf ? mforces.data() : nullptr,
                                mf ? mvirial.data() : nullptr, extrap.data(), va ? vatom.data() : nullptr);
                }
                return nb::make_tuple(eatom, forces, virial, mforces, mvirial, extrap, vatom);
            },
            nb::arg("offsets"), nb::arg("neighbours"), nb::arg("rij"), nb::arg("elements"),
            nb::arg("forces") = true, nb::arg("member_forces") = true, nb::arg("atom_virial") = false,
            "Returns (atomic_energies[M, natoms], mean forces[ntot,3], mean virial[3,3], member forces "
            "[M,ntot,3] (empty unless member_forces), member virials [M,3,3], extrapolations[natoms]).");
}

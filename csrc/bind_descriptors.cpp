// Python bindings of the symmetry-function kernels (csrc/hdnnp/symmetry_functions.hpp).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "hdnnp/symmetry_functions.hpp"

namespace nb = nanobind;
using hdnnp::ElementDescriptor;
using hdnnp::SymFuncParams;

namespace {

// Columns of the parameter table passed from Python (one row per SF, sorted order).
constexpr int NPARAM = 14;
// type, subtype, e1, e2, eta, rs, lambda, zeta, rc, rl, angle_left, angle_right, cutoff_type, cutoff_alpha

using DArr2 = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using DArr1 = nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using IArr1 = nb::ndarray<const int32_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using LArr1 = nb::ndarray<const int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

template <typename T>
nb::ndarray<nb::numpy, T> owned_array(std::vector<T>&& v, std::initializer_list<size_t> shape) {
    auto* heap = new std::vector<T>(std::move(v));
    nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
    return nb::ndarray<nb::numpy, T>(heap->data(), shape, owner);
}

std::vector<SymFuncParams> params_from_table(DArr2 table) {
    if (table.shape(0) > 0 && table.shape(1) != NPARAM)
        throw std::invalid_argument("parameter table must have 14 columns");
    std::vector<SymFuncParams> v(table.shape(0));
    const double* d = table.data();
    for (size_t s = 0; s < v.size(); ++s) {
        const double* r = d + s * NPARAM;
        SymFuncParams& p = v[s];
        p.type = (int)r[0];
        p.subtype = (int)r[1];
        p.e1 = (int)r[2];
        p.e2 = (int)r[3];
        p.eta = r[4];
        p.rs = r[5];
        p.lambda = r[6];
        p.zeta = r[7];
        p.rc = r[8];
        p.rl = r[9];
        p.angle_left = r[10];
        p.angle_right = r[11];
        p.cutoff_type = (int)r[12];
        p.cutoff_alpha = r[13];
    }
    return v;
}

}  // namespace

void bind_descriptors(nb::module_& m) {
    nb::class_<ElementDescriptor>(m, "ElementDescriptor",
        "All symmetry functions of one central element (rows of a 14-column parameter table, in order).")
        .def("__init__",
             [](ElementDescriptor* self, DArr2 table, int n_elements, std::vector<int> atomic_numbers) {
                 new (self) ElementDescriptor(params_from_table(table), n_elements, std::move(atomic_numbers));
             },
             nb::arg("params"), nb::arg("n_elements"), nb::arg("atomic_numbers") = std::vector<int>{})
        .def_prop_ro("size", &ElementDescriptor::size)
        .def_prop_ro("cutoff", &ElementDescriptor::cutoff)
        .def("compute",
             [](const ElementDescriptor& d, DArr2 rij, IArr1 neigh_elem, bool derivatives) {
                 size_t const n = rij.shape(0);
                 if (n > 0 && rij.shape(1) != 3) throw std::invalid_argument("rij must have shape (n, 3)");
                 if (neigh_elem.shape(0) != n) throw std::invalid_argument("neigh_elem must have n entries");
                 for (size_t k = 0; k < n; ++k)
                     if (neigh_elem.data()[k] < 0 || neigh_elem.data()[k] >= d.n_elements())
                         throw std::invalid_argument("neighbour element index out of range");
                 size_t const nsf = d.size();
                 std::vector<double> G(nsf);
                 std::vector<double> dG(derivatives ? nsf * n * 3 : 0);
                 {
                     nb::gil_scoped_release rel;
                     d.compute((int)n, rij.data(), neigh_elem.data(), G.data(), derivatives ? dG.data() : nullptr);
                 }
                 auto Ga = owned_array(std::move(G), {nsf});
                 if (!derivatives) return nb::make_tuple(Ga, nb::none());
                 return nb::make_tuple(Ga, owned_array(std::move(dG), {nsf, n, 3}));
             },
             nb::arg("rij"), nb::arg("neigh_elem"), nb::arg("derivatives") = false,
             "G (size,) and, if derivatives, dG (size, n, 3) = dG_s/dr_neighbour_k for one atom.")
        .def("contract",
             [](const ElementDescriptor& d, DArr2 rij, IArr1 neigh_elem, DArr1 dEdG, bool g_pass) {
                 size_t const n = rij.shape(0);
                 if (n > 0 && rij.shape(1) != 3) throw std::invalid_argument("rij must have shape (n, 3)");
                 if (neigh_elem.shape(0) != n) throw std::invalid_argument("neigh_elem must have n entries");
                 if (dEdG.shape(0) != (size_t)d.size()) throw std::invalid_argument("dEdG must have size entries");
                 for (size_t k = 0; k < n; ++k)
                     if (neigh_elem.data()[k] < 0 || neigh_elem.data()[k] >= d.n_elements())
                         throw std::invalid_argument("neighbour element index out of range");
                 std::vector<double> G(d.size()), g(3 * n);
                 {
                     nb::gil_scoped_release rel;
                     d.prepare((int)n, rij.data(), neigh_elem.data());
                     if (g_pass) d.compute_G(G.data());
                     d.contract(dEdG.data(), g.data());
                 }
                 return owned_array(std::move(g), {n, 3});
             },
             nb::arg("rij"), nb::arg("neigh_elem"), nb::arg("dEdG"), nb::arg("g_pass") = true,
             "Fused path: sum_s dEdG[s] dG_s/dr_k, shape (n, 3); g_pass: run compute_G first (as the "
             "evaluator does, reusing its triplet arrays) or not.");

    m.def("compute_descriptors_csr",
          [](std::vector<const ElementDescriptor*> descs, IArr1 atom_elem, LArr1 offsets, DArr2 vectors,
             IArr1 neigh_elem, bool derivatives) {
              size_t const N = atom_elem.shape(0);
              if (offsets.shape(0) != N + 1) throw std::invalid_argument("offsets must have N+1 entries");
              size_t const P = vectors.shape(0);
              if (P > 0 && vectors.shape(1) != 3) throw std::invalid_argument("vectors must have shape (P, 3)");
              if (neigh_elem.shape(0) != P) throw std::invalid_argument("neigh_elem must have P entries");
              const int64_t* off = offsets.data();
              const int32_t* ae = atom_elem.data();
              if (off[0] != 0 || (size_t)off[N] != P) throw std::invalid_argument("offsets do not span the pairs");
              std::vector<int64_t> goff(N + 1), doff(N + 1);
              goff[0] = doff[0] = 0;
              for (size_t i = 0; i < N; ++i) {
                  if (ae[i] < 0 || (size_t)ae[i] >= descs.size() || descs[ae[i]] == nullptr)
                      throw std::invalid_argument("atom element without a descriptor");
                  if (off[i + 1] < off[i]) throw std::invalid_argument("offsets must be non-decreasing");
                  int64_t const nsf = descs[ae[i]]->size();
                  goff[i + 1] = goff[i] + nsf;
                  doff[i + 1] = doff[i] + (derivatives ? nsf * (off[i + 1] - off[i]) * 3 : 0);
              }
              int const nel = descs[0] ? descs[0]->n_elements() : 0;
              for (size_t p = 0; p < P; ++p)
                  if (neigh_elem.data()[p] < 0 || neigh_elem.data()[p] >= nel)
                      throw std::invalid_argument("neighbour element index out of range");
              std::vector<double> G(goff[N]);
              std::vector<double> dG(doff[N]);
              {
                  nb::gil_scoped_release rel;
                  for (size_t i = 0; i < N; ++i) {
                      int64_t const b = off[i], nn = off[i + 1] - off[i];
                      descs[ae[i]]->compute((int)nn, vectors.data() + 3 * b, neigh_elem.data() + b,
                                            G.data() + goff[i], derivatives ? dG.data() + doff[i] : nullptr);
                  }
              }
              size_t const ng = G.size(), nd = dG.size();
              return nb::make_tuple(owned_array(std::move(G), {ng}), owned_array(std::move(goff), {N + 1}),
                                    owned_array(std::move(dG), {nd}), owned_array(std::move(doff), {N + 1}));
          },
          nb::arg("descriptors"), nb::arg("atom_elem"), nb::arg("offsets"), nb::arg("vectors"),
          nb::arg("neigh_elem"), nb::arg("derivatives") = false,
          "Whole structure: returns (G_flat, G_offsets, dG_flat, dG_offsets); atom i's G is "
          "G_flat[G_offsets[i]:G_offsets[i+1]] and its dG block (nsf_i, nneigh_i, 3) is "
          "dG_flat[dG_offsets[i]:dG_offsets[i+1]].");
}

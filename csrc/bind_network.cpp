// Python bindings of hdnnp/network.hpp: _core.Network, _core.Scaling, _core.ElementModel.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <nanobind/stl/tuple.h>

#include <string>
#include <vector>

#include "hdnnp/network.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

using Vec = nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using Mat = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using OutVec = nb::ndarray<nb::numpy, double, nb::ndim<1>>;
using OutMat = nb::ndarray<nb::numpy, double, nb::ndim<2>>;

std::vector<double> to_vec(const Vec& a) { return std::vector<double>(a.data(), a.data() + a.shape(0)); }

OutVec new_vec(std::size_t n) {
    double* p = new double[n > 0 ? n : 1];
    nb::capsule owner(p, [](void* q) noexcept { delete[] static_cast<double*>(q); });
    return OutVec(p, {n}, owner);
}
OutMat new_mat(std::size_t n, std::size_t m) {
    double* p = new double[n * m > 0 ? n * m : 1];
    nb::capsule owner(p, [](void* q) noexcept { delete[] static_cast<double*>(q); });
    return OutMat(p, {n, m}, owner);
}

std::vector<hdnnp::Activation> parse_acts(const std::string& s) {
    std::vector<hdnnp::Activation> a;
    for (char c : s) {
        if (c == ' ' || c == ',') continue;
        try {
            a.push_back(hdnnp::activation_from_char(c));
        } catch (const std::invalid_argument& e) {
            throw nb::value_error(e.what());
        }
    }
    return a;
}

std::string acts_str(const std::vector<hdnnp::Activation>& a) {
    std::string s;
    for (auto x : a) s += hdnnp::activation_to_char(x);
    return s;
}

void check_cols(const Mat& G, int n, const char* what) {
    if (int(G.shape(1)) != n)
        throw nb::value_error((std::string(what) + ": G has " + std::to_string(G.shape(1)) +
                               " columns, model has " + std::to_string(n) + " inputs").c_str());
}

// Batch evaluation of a model-like callable over rows of G.
template <class F>
nb::tuple batch(const Mat& G, int n, bool grad, F&& f) {
    const std::size_t na = G.shape(0);
    OutVec E = new_vec(na);
    OutMat D = new_mat(grad ? na : 0, grad ? std::size_t(n) : 0);
    const double* g = G.data();
    double* e = E.data();
    double* d = D.data();
    {
        nb::gil_scoped_release rel;
        for (std::size_t i = 0; i < na; ++i)
            e[i] = f(g + i * std::size_t(n), grad ? d + i * std::size_t(n) : nullptr);
    }
    if (grad) return nb::make_tuple(E, D);
    return nb::make_tuple(E, nb::none());
}

}  // namespace

void bind_network(nb::module_& m) {
    nb::class_<hdnnp::Network>(m, "Network",
        "One element's feed-forward network with n2p2 semantics (double precision).\n\n"
        "layer_sizes: [n_inputs, hidden..., 1]; activations: n2p2 letters, one per non-input\n"
        "layer (e.g. 'ttl'); weights: flat, in weights.ZZZ.data order; normalize_nodes: n2p2's\n"
        "normalize_nodes keyword.")
        .def("__init__",
             [](hdnnp::Network* self, std::vector<int> sizes, const std::string& acts, Vec w,
                bool normalize_nodes) {
                 try {
                     new (self) hdnnp::Network(std::move(sizes), parse_acts(acts), to_vec(w),
                                               normalize_nodes);
                 } catch (const std::invalid_argument& e) {
                     throw nb::value_error(e.what());
                 }
             },
             "layer_sizes"_a, "activations"_a, "weights"_a, "normalize_nodes"_a = false)
        .def_prop_ro("n_inputs", &hdnnp::Network::n_inputs)
        .def_prop_ro("layer_sizes", [](const hdnnp::Network& n) { return n.layer_sizes(); })
        .def_prop_ro("activations", [](const hdnnp::Network& n) { return acts_str(n.activations()); })
        .def_prop_ro("normalize_nodes", &hdnnp::Network::normalize_nodes)
        .def_prop_ro("n_weights", [](const hdnnp::Network& n) { return n.n_weights(); })
        .def_prop_ro("weights", [](const hdnnp::Network& n) {
            OutVec v = new_vec(n.n_weights());
            std::copy(n.flat_weights().begin(), n.flat_weights().end(), v.data());
            return v;
        }, nb::rv_policy::move)
        .def("evaluate_batch",
             [](const hdnnp::Network& net, Mat X, bool grad, bool n2p2_order) {
                 check_cols(X, net.n_inputs(), "Network.evaluate_batch");
                 if (n2p2_order)
                     return batch(X, net.n_inputs(), grad, [&](const double* x, double* d) {
                         return net.evaluate_n2p2_order(x, d);
                     });
                 return batch(X, net.n_inputs(), grad,
                              [&](const double* x, double* d) { return net.evaluate(x, d); });
             },
             "x"_a, "grad"_a = true, "n2p2_order"_a = false,
             "Outputs (n,) and d output/d input (n, n_inputs) (None if grad=False) for rows of x.\n"
             "n2p2_order: gradient in n2p2's operation order (bit-identical to n2p2, slower).");

    nb::class_<hdnnp::Scaling>(m, "Scaling",
        "n2p2 symmetry-function scaling of one element (sorted SF order). mode: 0 none, 1 scale,\n"
        "2 center, 3 scale+center, 4 scale+sigma (n2p2's SymFnc::ScalingType).")
        .def("__init__",
             [](hdnnp::Scaling* self, int mode, double smin, double smax, Vec gmin, Vec gmax,
                Vec gmean, Vec gsigma) {
                 try {
                     new (self) hdnnp::Scaling(mode, smin, smax, to_vec(gmin), to_vec(gmax),
                                               to_vec(gmean), to_vec(gsigma));
                 } catch (const std::invalid_argument& e) {
                     throw nb::value_error(e.what());
                 }
             },
             "mode"_a, "smin"_a, "smax"_a, "gmin"_a, "gmax"_a, "gmean"_a, "gsigma"_a)
        .def_ro("mode", &hdnnp::Scaling::mode)
        .def_ro("smin", &hdnnp::Scaling::smin)
        .def_ro("smax", &hdnnp::Scaling::smax)
        .def_prop_ro("size", &hdnnp::Scaling::size)
        .def_prop_ro("factors", [](const hdnnp::Scaling& s) {
            OutVec v = new_vec(s.factor.size());
            std::copy(s.factor.begin(), s.factor.end(), v.data());
            return v;
        }, nb::rv_policy::move)
        .def("apply_batch",
             [](const hdnnp::Scaling& s, Mat G) {
                 check_cols(G, s.size(), "Scaling.apply_batch");
                 const std::size_t na = G.shape(0), n = s.size();
                 OutMat out = new_mat(na, n);
                 for (std::size_t i = 0; i < na; ++i) s.apply(G.data() + i * n, out.data() + i * n);
                 return out;
             },
             "G"_a, "Scaled G (n_atoms, n_sf) from raw G.")
        .def("count_extrapolations_batch",
             [](const hdnnp::Scaling& s, Mat G) {
                 check_cols(G, s.size(), "Scaling.count_extrapolations_batch");
                 const std::size_t na = G.shape(0), n = s.size();
                 std::vector<int> c(na);
                 for (std::size_t i = 0; i < na; ++i) c[i] = s.count_extrapolations(G.data() + i * n);
                 return c;
             },
             "G"_a, "Per atom: number of SFs outside [Gmin, Gmax] (n2p2's extrapolation warnings).");

    nb::class_<hdnnp::ElementModel>(m, "ElementModel",
        "Scaling + network of one element: E_i (internal units) and dE_i/dG from raw G.")
        .def("__init__",
             [](hdnnp::ElementModel* self, const hdnnp::Scaling& s, const hdnnp::Network& n) {
                 try {
                     new (self) hdnnp::ElementModel(s, n);
                 } catch (const std::invalid_argument& e) {
                     throw nb::value_error(e.what());
                 }
             },
             "scaling"_a, "network"_a)
        .def_prop_ro("n_inputs", &hdnnp::ElementModel::n_inputs)
        .def_prop_ro("scaling", [](const hdnnp::ElementModel& e) { return e.scaling; })
        .def_prop_ro("network", [](const hdnnp::ElementModel& e) { return e.network; })
        .def("evaluate_batch",
             [](const hdnnp::ElementModel& em, Mat G, bool grad, bool wrt_scaled, bool n2p2_order) {
                 check_cols(G, em.n_inputs(), "ElementModel.evaluate_batch");
                 if (wrt_scaled || n2p2_order)
                     return batch(G, em.n_inputs(), grad, [&](const double* g, double* d) {
                         return em.energy_scaled_grad(g, d, n2p2_order);
                     });
                 return batch(G, em.n_inputs(), grad,
                              [&](const double* g, double* d) { return em.energy(g, d); });
             },
             "G"_a, "grad"_a = true, "wrt_scaled"_a = false, "n2p2_order"_a = false,
             "energies (n_atoms,) in internal units and dE/dG (n_atoms, n_sf) w.r.t. the raw G\n"
             "(None if grad=False). wrt_scaled=True: gradient w.r.t. the scaled G instead;\n"
             "n2p2_order=True implies wrt_scaled and uses n2p2's operation order.");
}

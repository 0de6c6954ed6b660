DROP TABLE phi_policies;

//! Alibaba Cloud RPC signature v1 and parameter canonicalisation (ECS, ENS). To be filled.

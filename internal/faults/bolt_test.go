package faults_test

const boltChildEnv = "FAULTS_BOLT_CHILD"

func boltChild() int { return 0 }

def test_fake_runtime_finds_photosynthesis(fake_runtime):
    result = fake_runtime.retriever.search("Фотосинтез дегеніміз не?")
    assert result.hits
    assert result.hits[0].chunk.doc.doc_key.endswith("biology-photosynthesis")

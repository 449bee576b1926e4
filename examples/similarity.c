/* similarity.c — embed a text and an image with one model and print their cosine similarity.
 *   cc similarity.c $(pkg-config --cflags --libs mmc) -o similarity
 *   ./similarity MODEL "a large red circle" photo.png
 * MODEL is a run folder of `mmc train retrieval` or a Hugging Face CLIP / Chinese-CLIP folder. */
#include <mmc.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s MODEL TEXT IMAGE\n", argv[0]); return 1; }
    mmc_error err = {0};
    mmc_embedder *model = mmc_embedder_open(argv[1], &err);
    if (!model) { fprintf(stderr, "%s\n", err.msg); return 2; }
    int dim = mmc_embedder_dim(model);
    float *text = malloc(sizeof(float) * dim), *image = malloc(sizeof(float) * dim);
    const char *texts[1] = {argv[2]}, *images[1] = {argv[3]};
    if (mmc_embedder_texts(model, texts, 1, text, &err) || mmc_embedder_image_files(model, images, 1, image, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    double cosine = 0; /* embeddings come back with length 1: the dot product is the cosine */
    for (int i = 0; i < dim; i++) cosine += (double)text[i] * image[i];
    printf("similarity %.4f\n", cosine);
    free(text);
    free(image);
    mmc_embedder_close(model);
    return 0;
}
